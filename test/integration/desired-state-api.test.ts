/**
 * The desired-state API on the real app and local host, over a seeded platform that has not booted
 * (no VM exists yet, so the live plan is "provision and start everything"): GET with its etag, PUT
 * with If-Match (428 without, 400 with issues, 412 with the current state, nothing written on any
 * error), the dry run against the live ARM and registry, and the monitoring key refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;

beforeAll(async () => {
  p = await startTestPlatform();
}, hang(180_000));

afterAll(async () => {
  await p?.stop();
}, hang(90_000));

const get = async () => {
  const res = await p.api('desired-state');
  return { res, body: (await res.json()) as any };
};
const put = (body: unknown, ifMatch?: string) =>
  p.api('desired-state', { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body), headers: ifMatch === undefined ? {} : { 'if-match': ifMatch } });
const plan = (body?: unknown) => p.api('desired-state/plan', { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });

/** The reconcile a PUT starts would provision the VMs: these tests are about the API, so it is stopped at once. */
async function stopReconcile(): Promise<void> {
  if (!p.host.getInstance('reconcile')) return;
  p.host.terminate('reconcile', 'test: the API is under test, not the reconcile');
  await p.host.waitForInstance('reconcile', { timeoutInMs: hang(30_000) });
}

describe('GET /api/desired-state', () => {
  it('answers the seeded state with its version, etag (also as the ETag header) and topology', async () => {
    const { res, body } = await get();
    expect(res.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['etag', 'topology', 'updatedAt', 'version']);
    expect(body.version).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('etag')).toBe(`"${body.etag}"`);
    expect(body.topology.services.map((s: any) => s.name)).toEqual(p.topology.services.map((s) => s.name));
  });
});

describe('PUT /api/desired-state', () => {
  it('428 without If-Match, 400 with every issue and its path, 412 on a stale etag: nothing written', async () => {
    const before = (await get()).body;
    const edited = structuredClone(before.topology);
    edited.services[0].env = { MODE: 'edited' };

    const missing = await put({ topology: edited });
    expect(missing.status).toBe(428);
    expect(((await missing.json()) as any).error).toMatch(/If-Match/);

    const bad = structuredClone(before.topology);
    bad.services[2].port = 'eighty';
    bad.services[1].dependsOn = ['kafak'];
    const invalid = await put({ topology: bad }, `"${before.etag}"`);
    expect(invalid.status).toBe(400);
    const issues = ((await invalid.json()) as any).issues as Array<{ path: string; message: string }>;
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'services[2].port', message: expect.stringMatching(/must be a number/) },
        { path: 'services[1].dependsOn[0]', message: expect.stringMatching(/unknown service "kafak"/) },
      ]),
    );

    const notJson = await put('{"topology": ', `"${before.etag}"`);
    expect(notJson.status).toBe(400);

    const stale = await put({ topology: edited }, '"not-the-etag"');
    expect(stale.status).toBe(412);
    const staleBody = (await stale.json()) as any;
    expect(staleBody.current).toEqual(before);

    expect((await get()).body).toEqual(before);
    expect(p.host.getInstance('reconcile')).toBeUndefined();
  });

  it('writes with the current etag and starts the reconcile; the old etag is then refused even for the same content', async () => {
    const before = (await get()).body;
    const edited = structuredClone(before.topology);
    edited.services[0].env = { MODE: 'written' };
    const res = await put({ topology: edited }, `"${before.etag}"`);
    const body = (await res.json()) as any;
    await stopReconcile();
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body).toMatchObject({ version: before.version + 1, changed: true, id: 'reconcile' });
    expect(body.operationUrl).toMatch(/\/api\/operations\/reconcile$/);
    expect(res.headers.get('etag')).toBe(`"${body.etag}"`);
    const after = (await get()).body;
    expect(after.version).toBe(before.version + 1);
    expect(after.etag).toBe(body.etag);
    expect(after.topology.services[0].env).toEqual({ MODE: 'written' });

    // Identical content to what is stored now, but edited from the old version: refused.
    const again = await put({ topology: edited }, `"${before.etag}"`);
    expect(again.status).toBe(412);
    expect(((await again.json()) as any).current.version).toBe(after.version);
    expect((await get()).body).toEqual(after);
  });

  it('an identical topology with the current etag: 202, changed false, no operation', async () => {
    const current = (await get()).body;
    const before = p.host.listInstances().length;
    const res = await put({ topology: current.topology }, `"${current.etag}"`);
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body).toEqual({ version: current.version, etag: current.etag, changed: false });
    expect(p.host.listInstances().length).toBe(before);
  });

  it('two PUTs with one etag at once: one lands, the other gets 412', async () => {
    const current = (await get()).body;
    const a = structuredClone(current.topology);
    a.services[0].env = { MODE: 'a' };
    const b = structuredClone(current.topology);
    b.services[0].env = { MODE: 'b' };
    const [ra, rb] = await Promise.all([put({ topology: a }, `"${current.etag}"`), put({ topology: b }, `"${current.etag}"`)]);
    await stopReconcile();
    expect([ra.status, rb.status].sort()).toEqual([202, 412]);
    expect((await get()).body.version).toBe(current.version + 1);
  });
});

describe('POST /api/desired-state/plan', () => {
  it('compares with the live platform: nothing exists yet, so every VM is provisioned and everything started; it acts on nothing', async () => {
    const before = (await get()).body;
    const instances = p.host.listInstances().length;
    const res = await plan();
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.unchanged).toEqual([]);
    const of = (action: string, kind: string) => body.changes.filter((c: any) => c.action === action && c.kind === kind).map((c: any) => c.name).sort();
    expect(of('provision', 'vm')).toEqual(p.topology.vms.map((v) => v.name).sort());
    expect(of('start', 'service')).toEqual(p.topology.services.map((s) => s.name).sort());
    expect(of('start', 'kafka')).toEqual(['kafka']);
    for (const c of body.changes) expect(typeof c.reason).toBe('string');
    expect((await get()).body).toEqual(before);
    expect(p.host.listInstances().length).toBe(instances);
  });

  it('plans a topology sent in the body without storing it; an invalid one is 400 with issues', async () => {
    const before = (await get()).body;
    const smaller = structuredClone(before.topology);
    smaller.services = smaller.services.filter((s: any) => s.name === 'authentication');
    const res = await plan({ topology: smaller });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.changes.filter((c: any) => c.kind === 'service').map((c: any) => c.name)).toEqual(['authentication']);
    const bad = await plan({ topology: { ...smaller, vms: [] } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).issues).toEqual(
      expect.arrayContaining([
        { path: 'vms', message: 'must list at least one VM' },
        { path: 'services[0].vm', message: 'unknown VM "vm-core"' },
      ]),
    );
    expect((await get()).body).toEqual(before);
  });
});

describe('POST /api/reconcile', () => {
  it('three requests at once run one reconcile: all answer its id, two of them joined it', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => p.api('reconcile', { method: 'POST', body: JSON.stringify({ requestedBy: 'test' }) })));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as any[];
    await stopReconcile();
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(bodies.map((b) => b.id)).toEqual(['reconcile', 'reconcile', 'reconcile']);
    expect(bodies.filter((b) => b.joined === false)).toHaveLength(1);
  });
});

describe('roles', () => {
  it("the monitoring key opens none of these routes", async () => {
    const asMonitoring = (path: string, init: RequestInit = {}) =>
      fetch(`${p.host.baseUrl}/api/${path}`, { ...init, headers: { 'x-functions-key': p.monitoringKey, 'content-type': 'application/json' } });
    const statuses = [
      (await asMonitoring('desired-state')).status,
      (await asMonitoring('desired-state', { method: 'PUT', body: '{}' })).status,
      (await asMonitoring('desired-state/plan', { method: 'POST' })).status,
      (await asMonitoring('reconcile', { method: 'POST' })).status,
      (await asMonitoring('services/authentication/scale', { method: 'POST', body: '{"replicas":2}' })).status,
      (await asMonitoring('services/authentication/move', { method: 'POST', body: '{"to":"vm-ops"}' })).status,
    ];
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
  });
});
