/**
 * Finds and kills every process of one emulated VM. Each exec and container process carries a
 * marker in its environment (`LCM_VM_TOKEN=<fleet id>.<vm>`), inherited by anything it starts,
 * even `setsid ... &`, so a power-off leaves nothing behind that escaped its process group.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const TOKEN_VAR = 'LCM_VM_TOKEN';

export function pidsWithToken(token: string): number[] {
  const needle = Buffer.from(`${TOKEN_VAR}=${token}\0`);
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids; // not Linux: process groups alone must do
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`);
      const at = environ.indexOf(needle);
      if (at === 0 || (at > 0 && environ[at - 1] === 0)) pids.push(pid);
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/** Sends `signal` to the process group of `pid` (falls back to the process alone). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGKILLs every process of the VM, repeating briefly for children forked while we swept. */
export async function killAllWithToken(token: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const pids = pidsWithToken(token);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
