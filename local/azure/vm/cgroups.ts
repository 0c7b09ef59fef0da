/**
 * The cgroups a run's VMs leave on the machine. Each VM's dockerd puts its containers under a
 * parent cgroup named `lcm<run>-<vm>` (vm-init.ts), created in every controller's hierarchy and
 * nested under whatever cgroup dockerd itself ran in. A VM killed with its namespace leaves these
 * (empty) behind, one set per VM per run: tens of thousands after a day of test runs, which the
 * kernel then carries in every hierarchy walk. A run removes its own when it stops; the next run
 * removes those of runs whose owner is gone.
 */
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Run ids are hex (network.ts); a parent is `lcm<run>-<vm>`. */
const PARENT = /^lcm([0-9a-f]{6})-[a-z0-9-]+$/;
/** dockerd's own cgroup may sit a few levels deep (a sandbox's, a service manager's). */
const MAX_DEPTH = 4;

/** Mount points of the cgroup hierarchies (v1 controllers and the v2 unified one). */
function hierarchyRoots(): string[] {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
      .map((f) => f[1]!);
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Every VM parent cgroup whose run id passes `select`, in every hierarchy. */
export function runCgroups(select: (run: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const sub of subdirs(dir)) {
      const m = PARENT.exec(sub.slice(sub.lastIndexOf('/') + 1));
      if (m) {
        if (select(m[1]!)) out.push(sub);
      } else if (depth < MAX_DEPTH) walk(sub, depth + 1);
    }
  };
  for (const root of hierarchyRoots()) walk(root, 0);
  return out;
}

/** Removes a cgroup and its children, deepest first; a cgroup still holding a process stays. */
function removeTree(dir: string): boolean {
  let all = true;
  for (const sub of subdirs(dir)) all = removeTree(sub) && all;
  try {
    rmdirSync(dir);
    return all;
  } catch {
    return false;
  }
}

/**
 * Removes the VM parent cgroups of the runs `select` names (processes already killed). Killed
 * processes leave their cgroup a moment later, so what is still busy is tried again briefly.
 * Returns how many parents are gone.
 */
export async function removeRunCgroups(select: (run: string) => boolean, opts: { attempts?: number; intervalInMs?: number } = {}): Promise<number> {
  const attempts = opts.attempts ?? 10;
  let left = runCgroups(select);
  const total = left.length;
  for (let i = 0; i < attempts && left.length > 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, opts.intervalInMs ?? 200));
    left = left.filter((dir) => !removeTree(dir));
  }
  return total - left.length;
}
