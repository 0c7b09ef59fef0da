/** HTTP starters using the SDK's durable client unchanged, and the management URLs it hands out. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_KEY, startFixtureHost, type TestHost, waitUntil } from './helpers.js';

interface CheckStatus {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

describe('local host: durable client and management routes', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(() => host?.stop());

  async function start(orchestrator: string, input: unknown, instanceId?: string): Promise<Response> {
    return host.call(`/api/orchestrators/${orchestrator}${instanceId ? '/' + instanceId : ''}`, { method: 'POST', body: JSON.stringify(input) });
  }

  it('createCheckStatusResponse URLs answer 202 while running and 200 with the output when done', async () => {
    const res = await start('approval', null);
    expect(res.status).toBe(202);
    const links = (await res.json()) as CheckStatus;
    expect(res.headers.get('location')).toBe(links.statusQueryGetUri);
    for (const url of [links.statusQueryGetUri, links.sendEventPostUri, links.terminatePostUri]) {
      expect(url.startsWith(host.baseUrl + '/runtime/webhooks/durabletask/instances/' + links.id)).toBe(true);
      expect(new URL(url).searchParams.get('code')).toBe(SYSTEM_KEY);
    }
    const running = await fetch(links.statusQueryGetUri);
    expect(running.status).toBe(202);
    const body: any = await running.json();
    expect(body).toMatchObject({ name: 'approval', instanceId: links.id, input: null, output: null });
    expect(['Pending', 'Running']).toContain(body.runtimeStatus);
    expect(typeof body.createdTime).toBe('string');
    expect(typeof body.lastUpdatedTime).toBe('string');

    for (const data of ['one', { two: 2 }]) {
      const raised = await fetch(links.sendEventPostUri.replace('{eventName}', 'approve'), {
        method: 'POST',
        body: JSON.stringify(data),
        headers: { 'Content-Type': 'application/json' },
      });
      expect(raised.status).toBe(202);
    }
    await host.waitForInstance(links.id);
    const done = await fetch(links.statusQueryGetUri + '&showHistory=true&showHistoryOutput=true');
    expect(done.status).toBe(200);
    const final: any = await done.json();
    expect(final).toMatchObject({ runtimeStatus: 'Completed', output: { first: 'one', second: { two: 2 } }, customStatus: { stage: 'done' } });
    const types = (final.historyEvents as { EventType: string }[]).map((e) => e.EventType);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types).toContain('TaskCompleted');
    expect(types.filter((t) => t === 'EventRaised')).toHaveLength(2);
    expect(types[types.length - 1]).toBe('ExecutionCompleted');
  });

  it('management URLs need the system key', async () => {
    const links = (await (await start('sequence', ['key-check'])).json()) as CheckStatus;
    const url = new URL(links.statusQueryGetUri);
    url.searchParams.delete('code');
    expect((await fetch(url)).status).toBe(401);
    url.searchParams.set('code', 'wrong');
    expect((await fetch(url)).status).toBe(401);
  });

  it('the terminate URL terminates a running instance', async () => {
    const links = (await (await start('race', 60_000)).json()) as CheckStatus;
    await waitUntil(() => host.getInstance(links.id)?.runtimeStatus === 'Running');
    const res = await fetch(links.terminatePostUri.replace('{text}', encodeURIComponent('operator said so')), { method: 'POST' });
    expect(res.status).toBe(202);
    const status = await (await fetch(links.statusQueryGetUri)).json();
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator said so' });
    expect((await fetch(links.terminatePostUri.replace('{text}', 'again'), { method: 'POST' })).status).toBe(410);
  });

  it('startNew on a running instance id is refused (409), a finished one starts anew', async () => {
    const first = await start('race', 60_000, 'boot');
    expect(first.status).toBe(202);
    const refused = await start('race', 1, 'boot');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).error).toMatch(/409/);
    const direct = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/orchestrators/race/boot?code=${SYSTEM_KEY}`, { method: 'POST', body: '1' });
    expect(direct.status).toBe(409);
    expect(((await direct.json()) as any).message).toMatch(/'boot'.*already Running/);

    host.raiseEvent('boot', 'approve', 'go');
    expect((await host.waitForInstance('boot')).output).toEqual({ winner: 'event', data: 'go' });
    const again = await start('sequence', ['again'], 'boot');
    expect(again.status).toBe(202);
    expect((await host.waitForInstance('boot')).output).toEqual(['Hello, again (hello)']);
  });

  it('client raiseEvent, getStatus and terminate work through HTTP functions', async () => {
    const links = (await (await start('approval', null)).json()) as CheckStatus;
    expect((await host.call(`/api/events/${links.id}/approve`, { method: 'POST', body: JSON.stringify({ a: 1 }) })).status).toBe(202);
    expect((await host.call(`/api/events/${links.id}/approve`, { method: 'POST', body: JSON.stringify('b') })).status).toBe(202);
    await host.waitForInstance(links.id);
    const status = await (await host.call(`/api/status/${links.id}`)).json();
    expect(status).toMatchObject({ instanceId: links.id, runtimeStatus: 'Completed', output: { first: { a: 1 }, second: 'b' } });

    const other = (await (await start('race', 60_000)).json()) as CheckStatus;
    await waitUntil(() => host.getInstance(other.id)?.runtimeStatus === 'Running');
    expect((await host.call(`/api/terminate/${other.id}`, { method: 'POST' })).status).toBe(202);
    expect(host.getInstance(other.id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stopped by the test' });
  });

  it('client getStatusBy / getStatusAll use the list route', async () => {
    const links = (await (await start('uncaught', null)).json()) as CheckStatus;
    await host.waitForInstance(links.id);
    const failed = (await (await host.call('/api/instances?status=Failed')).json()) as { instanceId: string; runtimeStatus: string }[];
    expect(failed.map((s) => s.instanceId)).toContain(links.id);
    expect(failed.every((s) => s.runtimeStatus === 'Failed')).toBe(true);
    const all = (await (await host.call('/api/instances')).json()) as { instanceId: string }[];
    expect(all.length).toBeGreaterThan(failed.length);

    const direct = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/?code=${SYSTEM_KEY}&runtimeStatus=Failed`);
    expect(direct.status).toBe(200);
    expect(((await direct.json()) as { instanceId: string }[]).map((s) => s.instanceId)).toEqual(failed.map((s) => s.instanceId));
  });

  it('an activity with a durable client input starts a singleton instance once', async () => {
    const id = host.startNew('startTwice', { input: 'singleton-watch' });
    expect((await host.waitForInstance(id)).output).toEqual(['started', 'already running']);
    expect(host.getInstance('singleton-watch')).toMatchObject({ name: 'race', runtimeStatus: 'Running' });
    host.terminate('singleton-watch', 'test over');
  });

  it('status of an unknown instance is 404', async () => {
    expect((await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/nope?code=${SYSTEM_KEY}`)).status).toBe(404);
  });
});
