/** Loading an app entry through the functions-core stand-in, and serving its HTTP triggers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, startFixtureHost, type TestHost } from './helpers.js';

describe('local host: loading and HTTP triggers', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(() => host?.stop());

  it('captures every registration with its trigger metadata', () => {
    const byName = new Map(host.registrations.map((r) => [r.name, r]));
    expect(byName.get('restartVm')).toMatchObject({ kind: 'http', route: 'vms/{name}/restart', methods: ['POST'], authLevel: 'function' });
    expect(byName.get('helloHttp')).toMatchObject({ kind: 'http', route: 'hello/{name?}', methods: ['GET'], authLevel: 'anonymous' });
    expect(byName.get('start')?.extraInputs.map((i) => i.type)).toEqual(['durableClient']);
    expect(byName.get('sequence')?.kind).toBe('orchestration');
    expect(byName.get('hello')?.kind).toBe('activity');
    expect(byName.get('nightly')).toMatchObject({ kind: 'timer', schedule: '0 0 3 * * *' });
  });

  it('serves route parameters, optional parameters and the query', async () => {
    const named = await host.call('/api/hello/ada?q=1', { key: null });
    expect(named.status).toBe(200);
    expect(await named.json()).toEqual({ greeting: 'Hello, ada', q: '1' });
    const bare = await host.call('/api/hello', { key: null });
    expect(await bare.json()).toEqual({ greeting: 'Hello, world', q: null });
  });

  it('enforces authLevel function: 401 without a key or with a wrong one, runs with header or code', async () => {
    const body = JSON.stringify({ reason: 'hung' });
    const none = await host.call('/api/vms/vm-a/restart', { method: 'POST', body, key: null });
    expect(none.status).toBe(401);
    const wrong = await host.call('/api/vms/vm-a/restart', { method: 'POST', body, key: 'nope' });
    expect(wrong.status).toBe(401);
    const header = await host.call('/api/vms/vm-a/restart', { method: 'POST', body });
    expect(header.status).toBe(202);
    expect(await header.json()).toEqual({ vm: 'vm-a', reason: 'hung' });
    const code = await host.call(`/api/vms/vm%2Db/restart?code=${FUNCTION_KEY}`, { method: 'POST', body, key: null });
    expect(code.status).toBe(202);
    expect(await code.json()).toEqual({ vm: 'vm-b', reason: 'hung' });
  });

  it('answers 404 for unknown routes and methods a route does not take', async () => {
    expect((await host.call('/api/nothing-here')).status).toBe(404);
    expect((await host.call('/api/vms/vm-a/restart', { method: 'GET' })).status).toBe(404);
    expect((await host.call('/elsewhere')).status).toBe(404);
  });

  it('turns a throwing handler into a 500 with a short message, and logs it', async () => {
    const res = await host.call('/api/explode', { key: null });
    expect(res.status).toBe(500);
    expect(((await res.json()) as any).message).toBe("Function 'explode' failed: kaboom");
    expect(host.logs.some((l) => l.includes('explode') && l.includes('kaboom'))).toBe(true);
  });

  it('loads the same entry again for a second host in the same process', async () => {
    const second = await startFixtureHost();
    try {
      expect(second.baseUrl).not.toBe(host.baseUrl);
      expect(second.registrations.map((r) => r.name).sort()).toEqual(host.registrations.map((r) => r.name).sort());
      const res = await second.call('/api/hello/two', { key: null });
      expect(await res.json()).toEqual({ greeting: 'Hello, two', q: null });
      const id = second.startNew('sequence', { input: ['second-host'] });
      expect((await second.waitForInstance(id)).output).toEqual(['Hello, second-host (hello)']);
    } finally {
      await second.stop();
    }
  });

  it('reports an entry that cannot be loaded, naming it', async () => {
    await expect(startFixtureHost({ entry: '/nonexistent/app.ts' })).rejects.toThrow(/Loading the function app entry "\/nonexistent\/app.ts" failed/);
  });
});
