/**
 * The request-body schemas of the ARM write operations the adapters call (test/contract/fixtures/
 * schemas, each derived from the pinned swagger and naming its path, commit and definitions), and
 * their validation with ajv: a body must have the swagger's types, enum values and required
 * members, no member the swagger does not declare, and no readOnly member (ARM ignores or refuses
 * what only the service sets, so a client that sends one is wrong either way).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export interface RequestSchemaFile {
  source: { repo: string; path: string; commit: string | null; readFrom?: string; operationId: string; apiVersion: string; definitions: string[]; derivation: string };
  schema: Record<string, unknown>;
}

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'schemas');

export function loadRequestSchemas(): Map<string, RequestSchemaFile> {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  const byOperation = new Map<string, RequestSchemaFile>();
  for (const f of files) {
    const file = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as RequestSchemaFile;
    if (byOperation.has(file.source.operationId)) throw new Error(`${f}: a second schema for ${file.source.operationId}`);
    byOperation.set(file.source.operationId, file);
  }
  return byOperation;
}

type Json = unknown;

/**
 * The schema as a request must meet it: every subschema marked readOnly becomes one that refuses
 * any value (JSON Schema's readOnly is only an annotation; for a request ARM's rule is "never send").
 */
export function forRequests(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(forRequests);
  if (!schema || typeof schema !== 'object') return schema;
  const s = schema as Record<string, Json>;
  if (s['readOnly'] === true) return { not: {}, readOnly: true, description: 'readOnly: set by the service, never sent' };
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, forRequests(v)]));
}

/** Every readOnly member path the schema declares (`properties.provisioningState`, arrays as `a[]`), following $refs once. */
export function readOnlyPaths(schema: Record<string, unknown>): string[] {
  const defs = (schema['definitions'] ?? {}) as Record<string, Record<string, unknown>>;
  const out = new Set<string>();
  const walk = (node: Record<string, unknown> | undefined, prefix: string, seen: Set<string>) => {
    if (!node) return;
    const ref = node['$ref'];
    if (typeof ref === 'string') {
      const name = ref.replace('#/definitions/', '');
      if (seen.has(name)) return;
      walk(defs[name], prefix, new Set(seen).add(name));
      return;
    }
    if (node['readOnly'] === true) out.add(prefix);
    const items = node['items'] as Record<string, unknown> | undefined;
    if (items) walk(items, `${prefix}[]`, seen);
    const props = (node['properties'] ?? {}) as Record<string, Record<string, unknown>>;
    for (const [k, v] of Object.entries(props)) walk(v, prefix ? `${prefix}.${k}` : k, seen);
  };
  walk(schema, '', new Set());
  return [...out].sort();
}

export interface BodyValidator {
  /** The problems of a body, each naming its member path; an empty list is a pass. */
  problems(body: unknown): string[];
}

function describe(e: ErrorObject): string {
  const at = e.instancePath || '(body)';
  if (e.keyword === 'additionalProperties') return `${at}: unknown member "${String(e.params['additionalProperty'])}"`;
  if (e.keyword === 'not' && e.parentSchema && (e.parentSchema as Record<string, unknown>)['readOnly'] === true) return `${at}: readOnly, set by the service`;
  if (e.keyword === 'enum') return `${at}: ${e.message} (${JSON.stringify(e.params['allowedValues'])})`;
  return `${at}: ${e.message ?? e.keyword}`;
}

const compiled = new WeakMap<RequestSchemaFile, BodyValidator>();

export function validatorFor(file: RequestSchemaFile): BodyValidator {
  const known = compiled.get(file);
  if (known) return known;
  // allErrors: report every offending member at once; verbose: errors carry their schema (to name readOnly).
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
  const validate: ValidateFunction = ajv.compile(forRequests(file.schema) as Record<string, unknown>);
  const validator: BodyValidator = {
    problems(body) {
      if (validate(body)) return [];
      return [...new Set((validate.errors ?? []).map(describe))];
    },
  };
  compiled.set(file, validator);
  return validator;
}
