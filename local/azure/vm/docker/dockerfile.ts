/**
 * Reads the parts of a Dockerfile the emulated engine needs: the final FROM, WORKDIR, CMD,
 * ENTRYPOINT, EXPOSE and ENV. Other instructions are kept only as build steps to print.
 */
export interface DockerfileInfo {
  from: string;
  workdir: string;
  cmd?: string[];
  entrypoint?: string[];
  expose: number[];
  env: Record<string, string>;
  steps: string[];
}

/** Exec form (JSON array) or shell form (`/bin/sh -c text`), as Docker. */
function commandForm(text: string): string[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch {
      // not JSON: Docker falls back to the shell form
    }
  }
  return ['/bin/sh', '-c', t];
}

function parseEnv(text: string, into: Record<string, string>): void {
  const t = text.trim();
  if (!/^[^\s=]+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (m) into[m[1]] = m[2];
    return;
  }
  for (const m of t.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    into[m[1]] = v;
  }
}

/** Throws an Error with docker-like text when the file has no build stage. */
export function parseDockerfile(text: string): DockerfileInfo {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!current && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    lines.push(current + line);
    current = '';
  }
  if (current.trim()) lines.push(current.trim());

  const info: DockerfileInfo = { from: '', workdir: '/', expose: [], env: {}, steps: [] };
  for (const line of lines) {
    const m = /^(\w+)\s*(.*)$/s.exec(line);
    if (!m) continue;
    const [, instr, rest] = m;
    info.steps.push(`${instr.toUpperCase()} ${rest}`.trim());
    switch (instr.toUpperCase()) {
      case 'FROM': {
        // A new stage resets what the final image inherits from the previous one.
        const image = rest.split(/\s+/).filter((w) => !w.startsWith('--'))[0] ?? '';
        Object.assign(info, { from: image, workdir: '/', cmd: undefined, entrypoint: undefined, expose: [], env: {} });
        break;
      }
      case 'WORKDIR':
        info.workdir = rest.trim();
        break;
      case 'CMD':
        info.cmd = commandForm(rest);
        break;
      case 'ENTRYPOINT':
        info.entrypoint = commandForm(rest);
        break;
      case 'EXPOSE':
        for (const p of rest.split(/\s+/)) {
          const n = Number(p.split('/')[0]);
          if (Number.isInteger(n) && n > 0) info.expose.push(n);
        }
        break;
      case 'ENV':
        parseEnv(rest, info.env);
        break;
      default:
        break;
    }
  }
  if (!info.from) throw new Error('failed to solve: no build stage in current context (the Dockerfile has no FROM)');
  return info;
}

/** The command Docker would run: ENTRYPOINT + CMD (or the run's override args). */
export function effectiveCommand(entrypoint: string[] | undefined, cmd: string[] | undefined, override: string[]): string[] {
  const args = override.length > 0 ? override : (cmd ?? []);
  if (!entrypoint) return args;
  if (entrypoint[0] === '/bin/sh' && entrypoint[1] === '-c') return entrypoint; // shell form ignores CMD
  return [...entrypoint, ...args];
}
