/**
 * Keys on the local host, as the Functions host checks them on Azure: host keys open every
 * authLevel-function route, a function key only its own function, the durable webhooks only the
 * system (or master) key, the /admin key API only the master key. Malformed escapes are a 400 on
 * every path, and no key appears in any log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMatches } from '../../../local/host/http-server.js';
import { FUNCTION_KEY, SYSTEM_KEY, startFixtureHost, type TestHost } from './helpers.js';

const MASTER_KEY = 'test-master-key-0123456789';
const RESTART_ONLY = 'restart-only-key-0123456789';

describe('local host: host keys, function keys, system and master keys', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost({ masterKey: MASTER_KEY, functionSecrets: { restartVm: { monitoring: RESTART_ONLY } } });
  });
  afterAll(() => host?.stop());

  const restart = (key: string | null) => host.call('/api/vms/vm-a/restart', { method: 'POST', body: '{}', key });

  it('a function key opens its own function and no other; host and master keys open both', async () => {
    expect((await restart(RESTART_ONLY)).status).toBe(202);
    expect((await host.call('/api/instances', { key: RESTART_ONLY })).status).toBe(401);
    expect((await host.call('/api/orchestrators/approval', { method: 'POST', body: 'null', key: RESTART_ONLY })).status).toBe(401);
    for (const key of [FUNCTION_KEY, MASTER_KEY]) {
      expect((await restart(key)).status).toBe(202);
      expect((await host.call('/api/instances', { key })).status).toBe(200);
    }
    // ?code= works like the header, for function keys too.
    expect((await fetch(`${host.baseUrl}/api/vms/vm-a/restart?code=${RESTART_ONLY}`, { method: 'POST', body: '{}' })).status).toBe(202);
    expect((await fetch(`${host.baseUrl}/api/instances?code=${RESTART_ONLY}`)).status).toBe(401);
    expect((await restart('wrong')).status).toBe(401);
    expect((await restart(null)).status).toBe(401);
  });

  it('no function key and no host key reaches a durable management route; the system and master keys do', async () => {
    const started = await host.call('/api/orchestrators/approval/keys-1', { method: 'POST', body: 'null' });
    expect(started.status).toBe(202);
    const routes: Array<[string, string]> = [
      ['GET', '/instances'],
      ['GET', '/instances/keys-1?showInput=true&showHistory=true'],
      ['POST', '/instances/keys-1/raiseEvent/approve'],
      ['POST', '/instances/keys-1/terminate?reason=x'],
      ['POST', '/instances/keys-1/rewind?reason=x'],
      ['DELETE', '/instances/keys-1'],
      ['POST', '/orchestrators/approval/keys-2'],
      ['POST', '/orchestrators/approval'],
    ];
    for (const [method, route] of routes) {
      for (const key of [FUNCTION_KEY, RESTART_ONLY, 'wrong']) {
        const url = `${host.baseUrl}/runtime/webhooks/durabletask${route}`;
        const viaHeader = await fetch(url, { method, headers: { 'x-functions-key': key }, body: method === 'GET' ? undefined : '"yes"' });
        const viaCode = await fetch(`${url}${route.includes('?') ? '&' : '?'}code=${key}`, { method, body: method === 'GET' ? undefined : '"yes"' });
        expect(viaHeader.status, `${method} ${route} with ${key}`).toBe(401);
        expect(viaCode.status, `${method} ${route} with ?code=${key}`).toBe(401);
      }
    }
    expect(host.getInstance('keys-1')?.runtimeStatus, 'nothing was terminated').not.toBe('Terminated');
    expect(host.getInstance('keys-2'), 'nothing was started').toBeUndefined();
    for (const key of [SYSTEM_KEY, MASTER_KEY]) {
      expect((await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/keys-1?code=${key}`)).status).toBe(202);
    }
    expect((await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/keys-1/terminate?reason=done&code=${SYSTEM_KEY}`, { method: 'POST' })).status).toBe(202);
  });

  it('the /admin key API takes the master key only; a key set there works on its function at once', async () => {
    const list = (key: string) => fetch(`${host.baseUrl}/admin/functions/restartVm/keys`, { headers: { 'x-functions-key': key } });
    for (const key of [FUNCTION_KEY, RESTART_ONLY, SYSTEM_KEY]) expect((await list(key)).status, key).toBe(401);
    const listed = await list(MASTER_KEY);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ keys: [{ name: 'monitoring', value: RESTART_ONLY }] });

    const value = 'set-through-admin-0123456789';
    const put = await fetch(`${host.baseUrl}/admin/functions/listInstances/keys/reader`, {
      method: 'PUT',
      headers: { 'x-functions-key': MASTER_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'reader', value }),
    });
    expect(put.status).toBe(201);
    expect((await host.call('/api/instances', { key: value })).status).toBe(200);
    expect((await restart(value)).status).toBe(401);
    expect(host.functionSecrets().listinstances).toEqual({ reader: value });
    const gone = await fetch(`${host.baseUrl}/admin/functions/listInstances/keys/reader`, { method: 'DELETE', headers: { 'x-functions-key': MASTER_KEY } });
    expect(gone.status).toBe(204);
    expect((await host.call('/api/instances', { key: value })).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/admin/functions/nosuch/keys`, { headers: { 'x-functions-key': MASTER_KEY } })).status).toBe(404);
  });

  it('a malformed escape is a 400 on the webhook, rpc and admin paths, never a 500', async () => {
    const paths = [
      `/runtime/webhooks/durabletask/instances/%E0%A4%A?code=${SYSTEM_KEY}`,
      `/runtime/webhooks/durabletask/instances/%zz/terminate?code=${SYSTEM_KEY}`,
      `/admin/functions/%/keys?code=${MASTER_KEY}`,
    ];
    for (const path of paths) {
      const res = await fetch(host.baseUrl + path, { method: path.includes('terminate') ? 'POST' : 'GET' });
      expect(res.status, path).toBe(400);
    }
    const rpc = new URL(host.clientData.rpcBaseUrl);
    expect((await fetch(`${rpc.origin}${rpc.pathname}instances/%E0%A4%A`)).status).toBe(400);
  });

  it('keyMatches compares every candidate and refuses empty keys', () => {
    expect(keyMatches('a', ['b', 'a'])).toBe(true);
    expect(keyMatches('a', ['ab', 'b'])).toBe(false);
    expect(keyMatches('', [''])).toBe(false);
    expect(keyMatches(undefined, ['a'])).toBe(false);
  });

  it('no log line carries a key, even when a request fails', async () => {
    // The fixture's anonymous `explode` route throws: its failure is logged with the path only.
    await fetch(`${host.baseUrl}/api/explode?code=${FUNCTION_KEY}`);
    await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/%zz?code=${SYSTEM_KEY}`);
    expect(host.logs.some((l) => l.includes('explode')), 'the failure was logged').toBe(true);
    for (const key of [FUNCTION_KEY, SYSTEM_KEY, MASTER_KEY, RESTART_ONLY]) {
      expect(host.logs.filter((l) => l.includes(key)), key).toEqual([]);
    }
  });
});
