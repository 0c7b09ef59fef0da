/**
 * Parses docker CLI arguments: `--flag value`, `--flag=value`, `-f value`, `-fvalue`, clusters of
 * short booleans (`-dit`), repeated flags. Parsing stops at the first positional argument when
 * `stopAtPositional` (docker run: what follows the image is the container's command).
 */
export interface ParsedArgs {
  flags: Map<string, string[]>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(args: string[], valueFlags: string[], stopAtPositional = false): ParsedArgs {
  const takesValue = new Set(valueFlags);
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (k: string, v: string): void => {
    const list = flags.get(k) ?? [];
    list.push(v);
    flags.set(k, list);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (eq > 0) add(name, a.slice(eq + 1));
      else if (takesValue.has(name)) {
        if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: ${name}`);
        add(name, args[++i]);
      } else add(name, 'true');
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const name = `-${a[j]}`;
        if (takesValue.has(name)) {
          const rest = a.slice(j + 1).replace(/^=/, '');
          if (rest) add(name, rest);
          else if (i + 1 < args.length) add(name, args[++i]);
          else throw new UsageError(`flag needs an argument: '${a[j]}' in ${a}`);
          break;
        }
        add(name, 'true');
      }
      continue;
    }
    positional.push(a);
    if (stopAtPositional) {
      positional.push(...args.slice(i + 1));
      break;
    }
  }
  return { flags, positional };
}

export const last = (p: ParsedArgs, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = p.flags.get(n);
    if (v && v.length) return v[v.length - 1];
  }
  return undefined;
};

export const all = (p: ParsedArgs, ...names: string[]): string[] => names.flatMap((n) => p.flags.get(n) ?? []);

export const has = (p: ParsedArgs, ...names: string[]): boolean => names.some((n) => p.flags.has(n) && last(p, n) !== 'false');
