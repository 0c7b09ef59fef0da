/**
 * The editor's draft: the desired state as a plain document, changed by path (immutably, so the
 * view re-renders), and what a form field's text becomes before the CLI's own schema judges it.
 * Pure: no DOM, shared by the UI bundle and its unit tests.
 */
export type Path = ReadonlyArray<string | number>;
type Doc = Record<string, unknown> | unknown[];

/** A copy of `doc` with the value at `path` replaced (intermediate objects created as needed). */
export function setAt<T>(doc: T, path: Path, value: unknown): T {
  if (path.length === 0) return value as T;
  const [head, ...rest] = path;
  const base: Doc = Array.isArray(doc) ? [...doc] : doc && typeof doc === 'object' ? { ...(doc as Record<string, unknown>) } : typeof head === 'number' ? [] : {};
  const current = (base as Record<string | number, unknown>)[head as string];
  (base as Record<string | number, unknown>)[head as string] = setAt(current, rest, value);
  return base as T;
}

/** A copy of `doc` without the value at `path` (an array element is spliced out). */
export function removeAt<T>(doc: T, path: Path): T {
  if (path.length === 0) return doc;
  const [head, ...rest] = path;
  if (Array.isArray(doc)) {
    const copy = [...doc];
    if (rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = removeAt(copy[head as number], rest);
    return copy as T;
  }
  if (!doc || typeof doc !== 'object') return doc;
  const copy = { ...(doc as Record<string, unknown>) };
  if (rest.length === 0) delete copy[head as string];
  else copy[head as string] = removeAt(copy[head as string], rest);
  return copy as T;
}

export function getAt(doc: unknown, path: Path): unknown {
  let node = doc;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[part as string];
  }
  return node;
}

/**
 * A number field's text: digits become a number; anything else stays text, so the schema answers
 * "must be a number" at that field instead of the UI guessing; empty means "not set".
 */
export function numberInput(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : text;
}

/** A list field written as "a, b, c". */
export function listInput(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** An env record as ordered rows (the form edits names and values in place). */
export function envRows(env: unknown): Array<[string, string]> {
  if (!env || typeof env !== 'object' || Array.isArray(env)) return [];
  return Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, String(v)]);
}

/** Renames one key of a record, keeping its value and the keys' order. */
export function renameKey(record: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
  if (from === to) return record;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k === from ? to : k, v]));
}

/** A key not in `record` yet: NAME, NAME_2, ... */
export function freshKey(record: Record<string, unknown>, base: string): string {
  if (!(base in record)) return base;
  for (let i = 2; ; i++) if (!(`${base}_${i}` in record)) return `${base}_${i}`;
}

/** A name not among `taken`: base, base-2, ... */
export function freshName(taken: Iterable<string>, base: string): string {
  const set = new Set(taken);
  if (!set.has(base)) return base;
  for (let i = 2; ; i++) if (!set.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Same document? (Key order ignored; what JSON keeps.) */
export function sameDocument(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
