/**
 * The HTTP API under random and malformed requests (fast-check) against the real app on the local
 * host, after a real boot: never a 5xx; 401 without the key on every `authLevel: function` route;
 * a JSON `{ error }` body on every 4xx of our routes; plus the documented statuses as fixed examples.
 *
 * Each random request is checked against an oracle that predicts its status class from the
 * registrations, the topology and what the store holds, so a wrong 4xx is caught too, not only a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistrationInfo } from '../../local/host/index.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { compactDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;

beforeAll(async () => {
  // The compact example (no Kafka), with one service of each kind so every restart route has a target.
  const doc = compactDocument();
  doc.services.find((s: any) => s.name === 'deployment-manager').kind = 'app';
  doc.services.find((s: any) => s.name === 'request-manager').kind = 'model';
  p = await startTestPlatform({ topology: assertTopology(doc) });
  const boot = await p.run('boot', undefined, 240_000);
  expect(boot.runtimeStatus, JSON.stringify(boot.output)).toBe('Completed');
}, hang(300_000));

afterAll(async () => {
  if (!p) return;
  try {
    await settle();
  } finally {
    await p.stop();
  }
}, hang(90_000));

/** Waits for every operation the tests started (the eternal watchdog excepted). */
async function settle(timeoutInMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const active = p.host.listInstances({ runtimeStatus: ['Pending', 'Running'] }).filter((s) => s.instanceId !== 'watchdog');
    if (active.length === 0) return;
    if (Date.now() > deadline) throw new Error(`operations still running after ${timeoutInMs} ms: ${active.map((s) => s.instanceId).join(', ')}`);
    await Promise.all(active.map((s) => p.host.waitForInstance(s.instanceId, { timeoutInMs: Math.max(1_000, deadline - Date.now()) }).catch(() => undefined)));
  }
}

const httpRoutes = (): RegistrationInfo[] => p.host.registrations.filter((r) => r.kind === 'http');

// ---------------------------------------------------------------------------------------------
// The oracle

type Auth = 'header' | 'code' | 'none' | 'wrongHeader' | 'wrongCode';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

interface FuzzRequest {
  method: (typeof METHODS)[number];
  /** Below /api/, as written (fetch's URL parser normalizes it, as a client's would). */
  path: string;
  query: [string, string][];
  body?: string;
  auth: Auth;
}

type Expectation =
  | { kind: 'host404' }
  | { kind: 'unauthorized' }
  | { kind: 'ours'; statuses: number[]; work?: boolean; mention?: string };

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OPERATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const MAX_BODY = 64 * 1024;
const KIND_ROUTE: Record<string, string> = { microservice: 'services', app: 'apps', model: 'models' };

function urlOf(r: FuzzRequest): URL {
  const url = new URL(`${p.host.baseUrl}/api/${r.path}`);
  for (const [k, v] of r.query) url.searchParams.append(k, v);
  if (r.auth === 'code') url.searchParams.set('code', p.key);
  if (r.auth === 'wrongCode') url.searchParams.set('code', 'not-the-key');
  return url;
}

/** The registration a path reaches, as the Functions host routes: literals case-insensitive, params one segment. */
function routeFor(method: string, pathname: string): { reg: RegistrationInfo; params: Record<string, string> } | undefined {
  if (!pathname.startsWith('/api/')) return undefined;
  const sub = pathname.slice(4);
  const candidates = httpRoutes()
    .filter((r) => r.methods!.includes(method))
    .map((reg) => {
      const segments = reg.route!.split('/');
      const names: string[] = [];
      const pattern = segments.map((s) => {
        const m = /^\{(\w+)\}$/.exec(s);
        if (!m) return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(m[1]!);
        return '([^/]+)';
      });
      return { reg, names, regex: new RegExp(`^/${pattern.join('/')}/?$`, 'i') };
    })
    .sort((a, b) => a.names.length - b.names.length);
  for (const c of candidates) {
    const m = c.regex.exec(sub);
    if (m) return { reg: c.reg, params: Object.fromEntries(c.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
  }
  return undefined;
}

/** The body as the function reads it: request.text() decodes UTF-8 and drops a byte-order mark. */
const bodyText = (body: string | undefined) => (body ?? '').replace(/^\uFEFF/, '');

/** What jsonBody + operationBody make of a body: 'ok', or the status of the refusal. */
function operationBodyOutcome(body: string | undefined): 'ok' | 400 | 413 {
  const text = bodyText(body);
  if (text.length > MAX_BODY) return 413;
  if (text.trim() === '') return 'ok';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 400;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 400;
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'reason' && k !== 'requestedBy') return 400;
    if (typeof v !== 'string' || v.length > 300) return 400;
  }
  return 'ok';
}

function expectationFor(r: FuzzRequest): Expectation {
  const url = urlOf(r);
  const found = routeFor(r.method, url.pathname);
  if (!found) return { kind: 'host404' };
  const { reg, params } = found;
  if (reg.authLevel !== 'anonymous' && r.auth !== 'header' && r.auth !== 'code') return { kind: 'unauthorized' };
  const ours = (statuses: number[], extra: Partial<Extract<Expectation, { kind: 'ours' }>> = {}): Expectation => ({ kind: 'ours', statuses, ...extra });
  const services = p.topology.services;
  const vms = p.topology.vms.map((v) => v.name);
  const name = params.name ?? params.service ?? '';
  const body = operationBodyOutcome(r.body);
  switch (reg.name) {
    case 'health':
    case 'openapi':
    case 'platform':
    case 'registry':
    case 'vms':
      return ours([200]);
    case 'uiIndex':
      return ours([200]);
    case 'uiAsset':
      // Any name but a hashed file answers the page; a hashed name that is not there is a 404.
      return ours(/^app-[0-9a-f]{12}\.(js|css)$/.test(params.file ?? '') ? [200, 404] : [200]);
    case 'registryEntry':
      if (!DNS_LABEL.test(name)) return ours([400]);
      return ours((name === 'kafka' && p.topology.kafka !== undefined) || services.some((s) => s.name === name) ? [200] : [404]);
    case 'service':
      if (!DNS_LABEL.test(name)) return ours([400]);
      return ours(services.some((s) => s.name === name) ? [200] : [404]);
    case 'operation': {
      const id = params.id ?? '';
      if (!OPERATION_ID.test(id)) return ours([400]);
      return ours(p.host.getInstance(id) ? [200, 202] : [404]);
    }
    case 'operationTerminate': {
      const id = params.id ?? '';
      if (!OPERATION_ID.test(id)) return ours([400]);
      if (body !== 'ok') return ours([body]);
      const instance = p.host.getInstance(id);
      if (!instance) return ours([404]);
      return ['Running', 'Pending'].includes(instance.runtimeStatus) ? ours([202, 409], { work: true }) : ours([409]);
    }
    case 'serviceLogs': {
      if (!DNS_LABEL.test(name)) return ours([400]);
      const lines = url.searchParams.get('lines');
      if (lines !== null && !(/^\d+$/.test(lines.trim()) && Number(lines) >= 1 && Number(lines) <= 1000 && Number.isInteger(Number(lines)))) return ours([400]);
      return ours((name === 'kafka' && p.topology.kafka !== undefined) || services.some((s) => s.name === name) ? [200] : [404]);
    }
    case 'boot':
      return body === 'ok' ? ours([202, 409], { work: true }) : ours([body]);
    case 'vmProvision':
      // The generators never send a valid new VM: invalid (400) or a duplicate name (409).
      return bodyText(r.body).length > MAX_BODY ? ours([413]) : ours([400, 409]);
    case 'vmResetHostKey':
      if (!DNS_LABEL.test(name)) return ours([400]);
      if (body !== 'ok') return ours([body]);
      return vms.includes(name) ? ours([200]) : ours([404]);
    case 'vmInit':
    case 'vmRestart':
      if (!DNS_LABEL.test(name)) return ours([400]);
      if (body !== 'ok') return ours([body]);
      return vms.includes(name) ? ours([202, 409], { work: true }) : ours([404]);
    case 'serviceRestart':
    case 'appRestart':
    case 'modelRestart': {
      if (!DNS_LABEL.test(name)) return ours([400]);
      if (body !== 'ok') return ours([body]);
      const spec = services.find((s) => s.name === name);
      if (!spec) return ours([404]);
      const routeKind = reg.route!.split('/')[0]!;
      if (KIND_ROUTE[spec.kind] !== routeKind) return ours([400], { mention: `/api/${KIND_ROUTE[spec.kind]}/${name}/restart` });
      return ours([202, 409], { work: true });
    }
    case 'desiredStateGet':
      return ours([200]);
    case 'desiredStatePut':
      // The fuzz never sends If-Match: refused before the body is read.
      return ours([428]);
    case 'desiredStatePlan': {
      // {topology} optional: an empty body or {} plans the stored state; anything else the fuzz sends is refused.
      const text = bodyText(r.body);
      if (text.length > MAX_BODY) return ours([413]);
      // A plan reads every VM live (ARM, SSH): costly, so counted against the work budget like a start.
      if (text.trim() === '') return ours([200], { work: true });
      try {
        const v = JSON.parse(text);
        if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return ours([200], { work: true });
      } catch {
        // not JSON: 400
      }
      return ours([400]);
    }
    case 'reconcileStart':
      return body === 'ok' ? ours([202], { work: true }) : ours([body]);
    case 'serviceScale':
    case 'serviceMove':
      if (!DNS_LABEL.test(name)) return ours([400]);
      if (bodyText(r.body).length > MAX_BODY) return ours([413]);
      // The generators never send a valid {replicas} / {to}: refused (or the service is unknown).
      return ours([400, 404]);
    default:
      throw new Error(`the oracle does not know route "${reg.name}" (${reg.route}): add it to api-fuzz.test.ts`);
  }
}

async function send(r: FuzzRequest): Promise<{ status: number; text: string; json: unknown }> {
  const headers: Record<string, string> = {};
  if (r.auth === 'header') headers['x-functions-key'] = p.key;
  if (r.auth === 'wrongHeader') headers['x-functions-key'] = 'not-the-key';
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(urlOf(r), { method: r.method, headers, body: r.method === 'GET' ? undefined : r.body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? '' : ` body(${r.body.length}): ${r.body.slice(0, 200)}`;
  return `${r.method} ${urlOf(r).pathname.slice(0, 200)}${r.query.length ? ' ?' + new URLSearchParams(r.query).toString().slice(0, 100) : ''} [key: ${r.auth}]${body}`;
}

/** Checks one response against its expectation; returns a failure description or undefined. */
function verdict(r: FuzzRequest, e: Expectation, res: { status: number; text: string; json: unknown }): string | undefined {
  const where = `${describeRequest(r)}\n  -> ${res.status} ${res.text.slice(0, 300)}`;
  if (res.status >= 500) return `5xx: ${where}`;
  const field = (name: string) => (res.json as Record<string, unknown> | undefined)?.[name];
  switch (e.kind) {
    case 'host404':
      // No function serves it: the host's own 404 (JSON `message`), not one of ours.
      if (res.status !== 404 || typeof field('message') !== 'string') return `expected the host's 404 with a message: ${where}`;
      return undefined;
    case 'unauthorized':
      if (res.status !== 401 || typeof field('message') !== 'string') return `expected 401 without a valid key: ${where}`;
      return undefined;
    case 'ours':
      if (!e.statuses.includes(res.status)) return `expected ${e.statuses.join(' or ')}: ${where}`;
      if (res.status >= 400) {
        if (typeof field('error') !== 'string' || (field('error') as string).length === 0) return `a 4xx without a JSON error string: ${where}`;
        if (e.mention && !(field('error') as string).includes(e.mention)) return `the error should name ${e.mention}: ${where}`;
      }
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

const EXISTING = ['vm-core', 'vm-apps', 'vm-ops', 'authentication', 'deployment-manager', 'request-manager', 'monitoring', 'kafka', 'boot', 'watchdog', 'restart-svc-authentication'];
const TRICKY = [
  '', '..', '.', '%00', '%2F', '%2e%2e', '%20', 'VM-CORE', 'Authentication', 'a b', ' ', 'x'.repeat(63), 'x'.repeat(64), 'a'.repeat(3000),
  'ünïcödé', '🙂', '名前', 'nosuch', 'vm-nope', 'null', 'undefined', '__proto__', 'constructor', '-a', 'a-', '1abc', 'a_b', 'a.b', 'a:b', '%C3%A9',
];
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EXISTING) },
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map(encodeURIComponent) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/) },
);

/** functions/index.ts's routes and methods (the openapi test checks this list against the registrations). */
const ROUTES: Array<[string, Array<(typeof METHODS)[number]>]> = [
  ['health', ['GET']], ['openapi.json', ['GET']], ['boot', ['POST']], ['platform', ['GET']], ['registry', ['GET']], ['registry/{service}', ['GET']],
  ['vms', ['GET', 'POST']], ['vms/{name}/init', ['POST']], ['vms/{name}/restart', ['POST']], ['services/{name}', ['GET']],
  ['services/{name}/restart', ['POST']], ['apps/{name}/restart', ['POST']], ['models/{name}/restart', ['POST']], ['operations/{id}', ['GET']],
  ['operations/{id}/terminate', ['POST']], ['services/{name}/logs', ['GET']], ['vms/{name}/reset-host-key', ['POST']],
  ['desired-state', ['GET', 'PUT']], ['desired-state/plan', ['POST']], ['reconcile', ['POST']], ['services/{name}/scale', ['POST']], ['services/{name}/move', ['POST']],
  ['ui', ['GET']], ['ui/{file}', ['GET']],
];
const TEMPLATES = [
  'health', 'openapi.json', 'boot', 'platform', 'registry', 'registry/{service}', 'vms', 'vms/{name}/init', 'vms/{name}/restart',
  'services/{name}', 'services/{name}/restart', 'apps/{name}/restart', 'models/{name}/restart', 'operations/{id}',
  'operations/{id}/terminate', 'services/{name}/logs', 'vms/{name}/reset-host-key',
  'desired-state', 'desired-state/plan', 'reconcile', 'services/{name}/scale', 'services/{name}/move', 'ui', 'ui/{file}',
  // Not routes: the host's 404.
  '', 'nosuch', 'vms/{name}', 'vms/{name}/stop', 'services/{name}/restart/now', 'operations', 'registry/{service}/x', '{name}/{name}/{name}',
];
function fillTemplate(template: string, values: string[], upper: boolean, slash: boolean): string {
  let i = 0;
  const filled = template.replace(/\{\w+\}/g, () => values[i++]!);
  return (upper ? filled.replace(/^[a-z]+/, (s) => s.toUpperCase()) : filled) + (slash ? '/' : '');
}

const query = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('history', 'showHistory', 'x', '', '名'), fc.string({ maxLength: 10 })).filter((k) => k !== 'code'),
    fc.oneof(fc.constantFrom('true', 'false', '', '1', '%zz'), fc.string({ unit: 'binary', maxLength: 20 })),
  ),
  { maxLength: 3 },
);

const nested = (depth: number, open: string, close: string, leaf: string) => open.repeat(depth) + leaf + close.repeat(depth);
const secretish = fc.constantFrom(
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
  'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJD;EndpointSuffix=core.windows.net',
  'https://a.file.core.windows.net/s/f?sv=2022-11-02&sig=abc%3D',
  'hunter2',
);
const anyJson = fc.jsonValue({ maxDepth: 4 });
const vmSpec = fc.record(
  {
    // Never a valid new name: an existing VM (409) or an invalid one (400).
    name: fc.oneof(fc.constantFrom('vm-core', 'vm-ops'), fc.constantFrom('', 'VM', '-x', 'a'.repeat(70), 'a_b'), fc.integer(), fc.constant(null), anyJson),
    size: fc.oneof(fc.constantFrom('Standard_B1s', 'Standard B1s', ''), fc.integer(), fc.boolean(), anyJson),
    sshKeySecret: fc.oneof(fc.constant('VM_SSH_PRIVATE_KEY'), secretish, fc.integer(), fc.constant(null), anyJson),
    adminUser: fc.oneof(fc.constantFrom('azureuser', 'Root', ''), fc.integer(), anyJson),
    image: fc.oneof(fc.constant({ publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' }), fc.string(), secretish, anyJson),
    password: secretish,
    privateKey: secretish,
    tags: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const operationish = fc.record(
  {
    reason: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ minLength: 290, maxLength: 320 }), fc.integer(), fc.constant(null), anyJson),
    requestedBy: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.boolean(), anyJson),
    unknown: anyJson,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('', '   ', '\n'),
  fc.constantFrom('{', '{"reason":', 'nul', '[1,2', "{'a':1}", '\u0000', '{"reason":"x"}}', 'NaN', 'undefined', '{"a":1,}', '\uFEFF{}', '"\\ud800"', '{"__proto__":{"reason":"x"}}', '{"reason":"a","reason":"b"}'),
  anyJson.map((v) => JSON.stringify(v)),
  fc.tuple(fc.oneof(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 10_000, max: 32_000 })), fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['{"reason":', '}'])).map(([d, [o, c]]) => nested(d, o, c, '1')),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => JSON.stringify({ reason: 'x'.repeat(n) })),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'é'.repeat(n)),
  vmSpec.map((v) => JSON.stringify(v)),
  operationish.map((v) => JSON.stringify(v)),
);
const auth = fc.constantFrom<Auth>('header', 'header', 'header', 'code', 'none', 'wrongHeader', 'wrongCode');
const method = fc.constantFrom(...METHODS);
/** Mostly a registered route with one of its methods (so most requests reach our code); sometimes anything. */
const target = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES).chain(([t, methods]) => fc.tuple(fc.constant(t), fc.constantFrom(...methods))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...TEMPLATES), method) },
);
const request: fc.Arbitrary<FuzzRequest> = fc
  .record({ target, fill: fc.array(segment, { minLength: 3, maxLength: 3 }), upper: fc.boolean(), slash: fc.boolean(), query, body, auth })
  .map(({ target: [template, m], fill, upper, slash, query, body, auth }) => ({ method: m, path: fillTemplate(template, fill, upper, slash), query, body, auth }));

// ---------------------------------------------------------------------------------------------

describe('API: documented statuses (fixed examples)', () => {
  const post = (path: string, body?: unknown) => p.api(path, { method: 'POST', body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });

  it('invalid body: 400 with the reason', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['services/authentication/restart', '{"reason": ', /not valid JSON/],
      ['services/authentication/restart', { reason: 5 }, /reason must be a string/],
      ['services/authentication/restart', { force: true }, /unknown field "force"/],
      ['services/authentication/restart', [1, 2], /must be a JSON object/],
      ['vms/vm-core/restart', '"restart please"', /must be a JSON object/],
      ['boot', { reason: 'x'.repeat(301) }, /at most 300 characters/],
      ['vms', '', /needs a JSON body/],
      // 30 000 levels used to overflow the stack of the VM spec validation: a 500.
      ['vms', nested(30_000, '[', ']', '1'), /deeper than 32 levels/],
      ['vms', `{"name":"vm-new","image":${nested(9_000, '[', ']', '1')}}`, /deeper than 32 levels/],
    ];
    for (const [path, body, reason] of cases) {
      const res = await post(path, body);
      const json = (await res.json()) as { error: string };
      expect(res.status, `POST ${path} ${String(body).slice(0, 40)}`).toBe(400);
      expect(json.error).toMatch(reason);
    }
  });

  it('a VM spec with wrong types: 400 listing each issue with its path', async () => {
    const res = await post('vms', { name: 'vm-new', size: 5, sshKeySecret: 'VM_SSH_PRIVATE_KEY', adminUser: ['x'], color: 'red' });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; issues: string[] };
    expect(json.error).toBe('invalid VM spec');
    expect(json.issues).toEqual(expect.arrayContaining([expect.stringMatching(/^size: must be a string/), expect.stringMatching(/^adminUser: /), 'color: unknown field']));
  });

  it('unknown target: 404 naming it', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['services/nosuch/restart', 'POST'],
      ['apps/nosuch/restart', 'POST'],
      ['models/nosuch/restart', 'POST'],
      ['vms/vm-nope/restart', 'POST'],
      ['vms/vm-nope/init', 'POST'],
      ['services/nosuch', undefined],
      ['registry/nosuch', undefined],
      ['operations/no-such-operation', undefined],
    ];
    for (const [path, method] of cases) {
      const res = await p.api(path, { method });
      const json = (await res.json()) as { error: string };
      expect(res.status, `${method ?? 'GET'} ${path}`).toBe(404);
      expect(json.error).toMatch(/nosuch|vm-nope|no-such-operation/);
    }
  });

  it('a restart on the wrong kind route: 400 naming the right route', async () => {
    const cases: Array<[string, string]> = [
      ['services/deployment-manager/restart', 'POST /api/apps/deployment-manager/restart'],
      ['services/request-manager/restart', 'POST /api/models/request-manager/restart'],
      ['apps/authentication/restart', 'POST /api/services/authentication/restart'],
      ['models/deployment-manager/restart', 'POST /api/apps/deployment-manager/restart'],
    ];
    for (const [path, right] of cases) {
      const res = await post(path);
      const json = (await res.json()) as { error: string };
      expect(res.status, path).toBe(400);
      expect(json.error).toContain(right);
    }
    expect(p.host.getInstance('restart-svc-deployment-manager'), 'a refused restart starts nothing').toBeUndefined();
  });

  it('the same work already running: 409 naming the running operation', async () => {
    const first = await post('vms/vm-apps/restart', { reason: 'fuzz test' });
    expect(first.status, await first.clone().text()).toBe(202);
    const { id } = (await first.json()) as { id: string };
    expect(id).toBe('restart-vm-vm-apps');
    const second = await post('vms/vm-apps/restart');
    const json = (await second.json()) as { error: string; operation: { id: string; runtimeStatus: string; operationUrl: string } };
    expect(second.status, JSON.stringify(json)).toBe(409);
    expect(json.error).toContain('"restart-vm-vm-apps"');
    expect(json.operation.id).toBe('restart-vm-vm-apps');
    expect(['Pending', 'Running']).toContain(json.operation.runtimeStatus);
    expect(json.operation.operationUrl).toMatch(/\/api\/operations\/restart-vm-vm-apps$/);
    const done = await p.host.waitForInstance(id, { timeoutInMs: hang(60_000) });
    expect(done.runtimeStatus).toBe('Completed');
    expect((done.output as { outcome: string }).outcome, JSON.stringify(done.output)).toBe('succeeded');
  }, hang(70_000));

  it('POST /api/vms: a duplicate name is 409; an inline password is 400 listing the issue (and not echoing the value)', async () => {
    const dup = await post('vms', { name: 'vm-core', size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' });
    const dupJson = (await dup.json()) as { error: string };
    expect(dup.status).toBe(409);
    expect(dupJson.error).toMatch(/vm-core.*already exists/);

    const password = 'Tr0ub4dor&3-not-for-logs';
    const inline = await post('vms', { name: 'vm-new', size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY', password });
    const text = await inline.text();
    expect(inline.status).toBe(400);
    const json = JSON.parse(text) as { error: string; issues: string[] };
    expect(json.issues).toEqual([expect.stringMatching(/^password: a secret written inline/)]);
    expect(text).not.toContain(password);
    expect(p.host.getInstance('provision-vm-vm-new'), 'a refused VM starts nothing').toBeUndefined();
  });

  it('GET /api/openapi.json: an OpenAPI 3 document listing exactly the registered routes', async () => {
    const res = await fetch(`${p.host.baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(typeof doc.info?.title).toBe('string');
    expect(typeof doc.info?.version).toBe('string');
    const registered = httpRoutes().flatMap((r) => r.methods!.map((m) => `${m.toLowerCase()} /${r.route}`)).sort();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)).map((m) => `${m} ${path}`))
      .sort();
    expect(documented).toEqual(registered);
    // Structure: every operation has responses; every path parameter is declared; every $ref resolves.
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
        const declared = (op.parameters ?? []).filter((q: any) => q.in === 'path').map((q: any) => q.name).sort();
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect(declared, `${method} ${path} path parameters`).toEqual(inPath);
        const reg = httpRoutes().find((r) => `/${r.route}` === path)!;
        if (reg.authLevel === 'function') expect(Object.keys(op.responses), `${method} ${path} documents 401`).toContain('401');
        else expect(op.security, `${method} ${path} needs no key`).toEqual([]);
      }
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const target = ref.split('/').reduce<any>((node, key) => node?.[key], doc);
      expect(target, `$ref #/${ref}`).toBeDefined();
    }
  });

  it('no key or a wrong key: 401 on every authLevel function route; anonymous routes answer without one', async () => {
    for (const reg of httpRoutes()) {
      const path = reg.route!.replace(/\{\w+\}/g, (m) => (m === '{id}' ? 'boot' : m === '{service}' ? 'authentication' : 'vm-core'));
      for (const method of reg.methods!) {
        const init = { method, body: method === 'GET' ? undefined : '{}' };
        const none = await fetch(`${p.host.baseUrl}/api/${path}`, init);
        const wrong = await fetch(`${p.host.baseUrl}/api/${path}?code=wrong`, { ...init, headers: { 'x-functions-key': 'wrong' } });
        if (reg.authLevel === 'anonymous') {
          expect(none.status, `${method} ${path}`).toBe(200);
        } else {
          for (const res of [none, wrong]) {
            expect(res.status, `${method} ${path}`).toBe(401);
            expect(typeof ((await res.json()) as { message: unknown }).message).toBe('string');
          }
        }
      }
    }
    expect(httpRoutes().filter((r) => r.authLevel === 'function').length).toBeGreaterThanOrEqual(15);
    // The fuzz generators know every registered route.
    const known = ROUTES.flatMap(([t, methods]) => methods.map((m) => `${m} ${t}`)).sort();
    expect(known).toEqual(httpRoutes().flatMap((r) => r.methods!.map((m) => `${m} ${r.route}`)).sort());
  });

  it('the monitoring key opens the registry and the restart routes only: 401 on every other route', async () => {
    const allowed = new Set(['registry', 'registryEntry', 'serviceRestart', 'appRestart', 'modelRestart']);
    const opened: string[] = [];
    for (const reg of httpRoutes()) {
      if (reg.authLevel === 'anonymous') continue;
      const path = reg.route!.replace(/\{\w+\}/g, (m) => (m === '{id}' ? 'nosuch-operation' : m === '{service}' ? 'nosuch' : 'nosuch'));
      for (const method of reg.methods!) {
        // Unknown targets: an allowed route answers 404 (it ran), a refused one 401 (it never ran).
        const res = await fetch(`${p.host.baseUrl}/api/${path}`, { method, headers: { 'x-functions-key': p.monitoringKey }, body: method === 'GET' ? undefined : '{}' });
        if (allowed.has(reg.name)) {
          expect(res.status, `${method} ${path} with the monitoring key`).not.toBe(401);
          opened.push(reg.name);
        } else expect(res.status, `${method} ${path} with the monitoring key`).toBe(401);
      }
    }
    expect(opened.sort()).toEqual([...allowed].sort());
    // It does its job: a restart request is accepted.
    const restart = await fetch(`${p.host.baseUrl}/api/services/authentication/restart`, {
      method: 'POST',
      headers: { 'x-functions-key': p.monitoringKey, 'content-type': 'application/json' },
      body: JSON.stringify({ requestedBy: 'monitoring', reason: 'test' }),
    });
    expect([202, 409]).toContain(restart.status);
    await settle();
    // Neither key reaches the durable management routes.
    for (const key of [p.monitoringKey, p.key]) {
      expect((await fetch(`${p.host.baseUrl}/runtime/webhooks/durabletask/instances?code=${key}`)).status).toBe(401);
      expect((await fetch(`${p.host.baseUrl}/runtime/webhooks/durabletask/instances/watchdog/terminate?code=${key}`, { method: 'POST' })).status).toBe(401);
    }
    expect(p.host.getInstance('watchdog')?.runtimeStatus).toBe('Running');
  }, hang(60_000));

  it('the services\' key reads the registry only: 401 on every other route, restarts included', async () => {
    const allowed = new Set(['registry', 'registryEntry']);
    const opened: string[] = [];
    for (const reg of httpRoutes()) {
      if (reg.authLevel === 'anonymous') continue;
      const path = reg.route!.replace(/\{\w+\}/g, (m) => (m === '{id}' ? 'nosuch-operation' : 'nosuch'));
      for (const method of reg.methods!) {
        const res = await fetch(`${p.host.baseUrl}/api/${path}`, { method, headers: { 'x-functions-key': p.serviceKey }, body: method === 'GET' ? undefined : '{}' });
        if (allowed.has(reg.name)) {
          expect(res.status, `${method} ${path} with the service key`).not.toBe(401);
          opened.push(reg.name);
        } else expect(res.status, `${method} ${path} with the service key`).toBe(401);
      }
    }
    expect(opened.sort()).toEqual([...allowed].sort());
    // It does its job: a look-up of a running service answers its address.
    const entry = await fetch(`${p.host.baseUrl}/api/registry/authentication`, { headers: { 'x-functions-key': p.serviceKey } });
    expect(entry.status).toBe(200);
    // A restart of a real service is refused, and nothing was started.
    const before = p.host.listInstances().length;
    const restart = await fetch(`${p.host.baseUrl}/api/services/authentication/restart`, {
      method: 'POST',
      headers: { 'x-functions-key': p.serviceKey, 'content-type': 'application/json' },
      body: JSON.stringify({ requestedBy: 'sensor-manager', reason: 'test' }),
    });
    expect(restart.status).toBe(401);
    expect(p.host.listInstances().length).toBe(before);
  }, hang(60_000));

  it('a 202 names our operation URL only: no durable management URL, no system key, in the body or Location', async () => {
    const res = await post('vms/vm-core/init', {});
    expect(res.status).toBe(202);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ id: 'init-vm-vm-core', operationUrl: `${p.host.baseUrl}/api/operations/init-vm-vm-core` });
    expect(res.headers.get('location')).toBe(`${p.host.baseUrl}/api/operations/init-vm-vm-core`);
    for (const leaked of ['runtime/webhooks', 'code=', p.host.systemKey, encodeURIComponent(p.host.systemKey)]) {
      expect(text, leaked).not.toContain(leaked);
      expect([...res.headers.values()].join('\n'), leaked).not.toContain(leaked);
    }
    await settle();
  }, hang(60_000));

  it('reset-host-key forgets a VM\'s pinned host key (operators only); the next connection pins again', async () => {
    const pinned = await p.db.getHostKey('vm-apps');
    expect(pinned?.fingerprint).toMatch(/^SHA256:/);
    const refused = await fetch(`${p.host.baseUrl}/api/vms/vm-apps/reset-host-key`, { method: 'POST', headers: { 'x-functions-key': p.monitoringKey } });
    expect(refused.status).toBe(401);
    expect((await p.db.getHostKey('vm-apps'))?.fingerprint).toBe(pinned!.fingerprint);
    const res = await post('vms/vm-apps/reset-host-key', {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ vm: 'vm-apps', reset: true, previousFingerprint: pinned!.fingerprint });
    expect(await p.db.getHostKey('vm-apps')).toBeUndefined();
    const init = await p.run('vms/vm-apps/init', {}, hang(60_000));
    expect(init.runtimeStatus, JSON.stringify(init.output)).toBe('Completed');
    expect((await p.db.getHostKey('vm-apps'))?.fingerprint).toBe(pinned!.fingerprint);
    expect((await post('vms/nosuch/reset-host-key', {})).status).toBe(404);
  }, hang(90_000));

  // A wrong-typed value is described, never quoted back when it may be a secret.
  it('a 400 for a VM spec does not echo an inline secret value, whatever field it is in', async () => {
    const secret = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----';
    for (const field of ['password', 'sshKeySecret', 'size', 'adminUser', 'image']) {
      const res = await post('vms', { name: 'vm-new', size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY', [field]: secret });
      const text = await res.text();
      expect(res.status, field).toBe(400);
      expect(text, `the answer for ${field}`).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmU');
    }
  });

  // Like Azure's host, the local host keeps a malformed escape undecoded; the route then answers 400.
  it('a malformed percent-escape in a route parameter is a 4xx', async () => {
    for (const path of ['services/%zz', 'registry/%E0%A4%A', 'vms/%/restart']) {
      const res = await p.api(path, { method: path.endsWith('restart') ? 'POST' : 'GET' });
      expect(res.status, path).toBeLessThan(500);
    }
  });
});

describe('API: random and malformed requests (fast-check)', () => {
  it('never a 5xx; the predicted status class; 401 without a key; a JSON error on every 4xx', async () => {
    await settle();
    let work = 0;
    const WORK_BUDGET = 4; // valid POSTs start real orchestrations: a few, not a flood
    const failures: string[] = [];
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const e = expectationFor(r);
        if (e.kind === 'ours' && e.work) {
          fc.pre(work < WORK_BUDGET);
          work += 1;
        }
        const res = await send(r);
        const key = `${e.kind}:${res.status}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        const problem = verdict(r, e, res);
        if (problem) failures.push(problem);
        return problem === undefined;
      }),
      { numRuns: 600, maxSkipsPerRun: 1_000, endOnFailure: true },
    ).catch((err: unknown) => {
      throw new Error(`${failures.join('\n')}\n${(err as Error).message}`);
    });
    // The generators reach every class of answer (not only the host's 404s).
    for (const k of ['host404:404', 'unauthorized:401', 'ours:200', 'ours:400', 'ours:404', 'ours:413']) {
      expect(seen.get(k) ?? 0, `${k} among ${JSON.stringify(Object.fromEntries(seen))}`).toBeGreaterThan(0);
    }
  }, hang(120_000));
});
