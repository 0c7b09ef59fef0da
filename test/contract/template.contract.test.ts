/**
 * infra/lcm.json against the published deployment template schema (2019-04-01, pinned in
 * test/contract/fixtures/template) and the resource providers' schemas: no member the schema does
 * not define (it sets additionalProperties false, and ARM refuses an unknown member of a template
 * resource), the required ones present, and every resource type at an api-version its provider
 * publishes. The checker is proven on mutated copies of the template.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTemplate } from '../../bootstrap-cli/azure/infra.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'template');
const schema = JSON.parse(readFileSync(join(DIR, 'deployment-template.json'), 'utf8')) as {
  id: string;
  template: { properties: string[]; required: string[]; contentVersionPattern: string };
  parameter: { properties: string[]; required: string[] };
  parameterTypes: string[];
  output: { properties: string[]; required: string[] };
  resourceBase: { properties: string[]; required: string[] };
  apiVersionPattern: string;
};
const providers = JSON.parse(readFileSync(join(DIR, 'resource-types.json'), 'utf8')) as {
  files: Record<string, { path: string; types: Record<string, string[]> }>;
  resourceMembers: string[];
};

type Json = Record<string, unknown>;

/** Every way the template departs from the schemas, as "where: what" lines. */
export function templateProblems(template: Json): string[] {
  const problems: string[] = [];
  const unknown = (where: string, object: Json, allowed: string[]) => {
    for (const key of Object.keys(object)) if (!allowed.includes(key)) problems.push(`${where}: unknown member '${key}'`);
  };
  const missing = (where: string, object: Json, required: string[]) => {
    for (const key of required) if (object[key] === undefined) problems.push(`${where}: '${key}' is required`);
  };
  unknown('template', template, schema.template.properties);
  missing('template', template, schema.template.required);
  if (template['$schema'] !== schema.id) problems.push(`template: $schema is not ${schema.id}`);
  if (!new RegExp(schema.template.contentVersionPattern).test(String(template['contentVersion']))) problems.push('template: contentVersion is not a 4-number version');
  for (const [name, p] of Object.entries((template['parameters'] ?? {}) as Record<string, Json>)) {
    unknown(`parameters.${name}`, p, schema.parameter.properties);
    missing(`parameters.${name}`, p, schema.parameter.required);
    if (!schema.parameterTypes.includes(String(p['type']))) problems.push(`parameters.${name}: type '${String(p['type'])}' is not one of ${schema.parameterTypes.join(', ')}`);
  }
  for (const [name, o] of Object.entries((template['outputs'] ?? {}) as Record<string, Json>)) {
    unknown(`outputs.${name}`, o, schema.output.properties);
    missing(`outputs.${name}`, o, schema.output.required);
  }
  const resources = template['resources'];
  if (!Array.isArray(resources)) return [...problems, 'template: resources is not an array'];
  resources.forEach((raw, i) => {
    const r = raw as Json;
    const where = `resources[${i}] ${String(r['type'])} ${String(r['name'])}`;
    unknown(where, r, [...schema.resourceBase.properties, ...providers.resourceMembers]);
    missing(where, r, [...schema.resourceBase.required, 'apiVersion']);
    const apiVersion = String(r['apiVersion']);
    if (!new RegExp(schema.apiVersionPattern).test(apiVersion)) problems.push(`${where}: apiVersion '${apiVersion}' is malformed`);
    const [namespace, ...rest] = String(r['type']).split('/');
    const file = providers.files[namespace!];
    const entry = rest.join('_');
    if (!file) problems.push(`${where}: no provider schema for ${namespace}`);
    else if (!file.types[entry]) problems.push(`${where}: ${file.path} defines no resource type '${entry}'`);
    else if (!file.types[entry]!.includes(apiVersion)) problems.push(`${where}: api-version ${apiVersion} is not published for ${String(r['type'])} (${file.types[entry]!.join(', ')})`);
  });
  return problems;
}

describe('infra/lcm.json against the published deployment template and provider schemas', () => {
  const template = loadTemplate() as Json;

  it('has no member the schemas do not define, its required members, and published api-versions only', () => {
    expect(templateProblems(template)).toEqual([]);
  });

  it('an unknown member, a missing name, an unpublished api-version or type is each found, where it is', () => {
    const copy = () => structuredClone(template) as Json & { resources: Json[]; parameters: Record<string, Json> };
    const a = copy();
    a['extra'] = 1;
    expect(templateProblems(a)).toEqual(["template: unknown member 'extra'"]);
    const b = copy();
    b.resources[0]!['propertes'] = {};
    expect(templateProblems(b)).toEqual([`resources[0] ${String(b.resources[0]!['type'])} ${String(b.resources[0]!['name'])}: unknown member 'propertes'`]);
    const c = copy();
    const site = c.resources.findIndex((r) => r['type'] === 'Microsoft.Web/sites');
    c.resources[site]!['apiVersion'] = '2099-01-01';
    expect(templateProblems(c)).toEqual([expect.stringContaining('api-version 2099-01-01 is not published for Microsoft.Web/sites')]);
    const d = copy();
    d.resources[0]!['type'] = 'Microsoft.Storage/storageAcounts';
    expect(templateProblems(d)).toEqual([expect.stringContaining("defines no resource type 'storageAcounts'")]);
    const e = copy();
    delete e.resources[0]!['name'];
    expect(templateProblems(e)).toEqual([expect.stringContaining("'name' is required")]);
    const f = copy();
    const firstParameter = Object.keys(f.parameters)[0]!;
    f.parameters[firstParameter]!['type'] = 'text';
    expect(templateProblems(f)).toEqual([`parameters.${firstParameter}: type 'text' is not one of ${schema.parameterTypes.join(', ')}`]);
  });
});
