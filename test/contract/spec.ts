/**
 * Contract fixtures derived from the public REST specs' x-ms-examples (test/contract/fixtures,
 * each naming its source file and commit in `$source`), and the checks the suite applies to the
 * emulator's answers: the status codes the spec lists, the long-running-operation headers it
 * declares, the JSON types of the properties the example response carries, and CloudError bodies.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ContractFixture {
  $source: { repo: string; path: string; commit: string; spec?: { path: string; commit: string }; derivation: string };
  operationId: string;
  apiVersion: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  /** Every status code the spec's responses list (besides `default`, the CloudError). */
  statuses: number[];
  /** The LRO the spec declares: the initial status carrying the headers, and how the final state is read. */
  lro?: { status: number; finalStateVia: 'location' | 'azure-async-operation'; headers: string[] };
  request?: unknown;
  responses: Record<string, unknown>;
  /** Per status: property paths (`a.b[].c`) whose JSON type must match the example's; `path:type` for one the example lacks. */
  check: Record<string, string[]>;
}

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function loadFixture(name: string): ContractFixture {
  return JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as ContractFixture;
}

/** The fixtures of the top folder, or of a subfolder (`platform`: the CLI's providers). */
export function fixtureNames(subdir?: string): string[] {
  return readdirSync(subdir ? join(DIR, subdir) : DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => (subdir ? `${subdir}/` : '') + f.slice(0, -'.json'.length))
    .sort();
}

/**
 * Replaces the example's names with the suite's: every string is split at '/', and a segment that
 * is exactly a key of `names` is replaced (ids, paths, `/home/{user}/.ssh/...` and bare values alike).
 */
export function substitute<T>(value: T, names: Record<string, string>): T {
  const swap = (s: string) =>
    s
      .split('/')
      .map((seg) => names[seg] ?? seg)
      .join('/');
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return swap(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

export function jsonType(v: unknown): JsonType | 'undefined' {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

/** Every value at a path; `[]` fans out over an array's items. */
function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const part of path.split('.')) {
    const fan = part.endsWith('[]');
    const key = fan ? part.slice(0, -2) : part;
    const next: unknown[] = [];
    for (const v of current) {
      const child = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
      if (fan) {
        if (Array.isArray(child) && child.length > 0) next.push(...child);
        else next.push(child === undefined ? undefined : child); // missing or empty: reported as such
      } else next.push(child);
    }
    current = next;
  }
  return current;
}

/**
 * The differences between an answer and the example at the checked paths: a path missing from the
 * answer, or holding another JSON type than the example's (an integer passes where the example has a
 * number). An empty list is a pass.
 */
export function shapeDifferences(example: unknown, actual: unknown, paths: string[]): string[] {
  const problems: string[] = [];
  for (const entry of paths) {
    const [path, declared] = entry.split(':') as [string, JsonType | undefined];
    const expected = declared ?? jsonType(valuesAt(example, path)[0]);
    if (expected === 'undefined') {
      problems.push(`${path}: not in the example (fixture error)`);
      continue;
    }
    const found = valuesAt(actual, path);
    for (const v of found) {
      const t = jsonType(v);
      const ok = t === expected || (expected === 'number' && t === 'integer');
      if (!ok) problems.push(`${path}: ${t === 'undefined' ? 'missing' : `${t}, the spec's example has ${expected}`}`);
    }
  }
  return [...new Set(problems)];
}

/** CloudError (common-types): `{ error: { code: string, message: string, target?: string, details?: CloudError[] } }`. */
export function cloudErrorProblems(body: unknown): string[] {
  const error = body && typeof body === 'object' ? (body as Record<string, unknown>)['error'] : undefined;
  if (!error || typeof error !== 'object') return ['no error object'];
  const e = error as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof e['code'] !== 'string' || e['code'] === '') problems.push('error.code is not a non-empty string');
  if (typeof e['message'] !== 'string' || e['message'] === '') problems.push('error.message is not a non-empty string');
  if (e['target'] !== undefined && typeof e['target'] !== 'string') problems.push('error.target is not a string');
  if (e['details'] !== undefined && !Array.isArray(e['details'])) problems.push('error.details is not an array');
  return problems;
}
