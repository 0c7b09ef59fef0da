/** Orchestration semantics on the local host, through the SDK's own replay code. */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixtureHost, tempDir, type TestHost, waitUntil } from './helpers.js';
import { state } from '../../fixtures/host-app/state.js';

const calls = (key: string) => state.calls[key] ?? 0;

describe('local host: orchestrations', () => {
  let host: TestHost;
  const tmp = tempDir('lcm-host-orch-');
  const storeFile = path.join(tmp.dir, 'hub.db');
  beforeAll(async () => {
    host = await startFixtureHost({ storeFile, maxConcurrentActivities: 64 });
  });
  afterAll(async () => {
    await host?.stop();
    tmp.cleanup();
  });

  it('runs a sequence of activities, each exactly once despite replays', async () => {
    const id = host.startNew('sequence', { input: ['seq-1', 'seq-2', 'seq-3'] });
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello, seq-1 (hello)', 'Hello, seq-2 (hello)', 'Hello, seq-3 (hello)']);
    expect([calls('hello:seq-1'), calls('hello:seq-2'), calls('hello:seq-3')]).toEqual([1, 1, 1]);
  });

  it('fans out with Task.all and replays completions that are ready together in one batch', async () => {
    const before = calls('double');
    const id = host.startNew('fanOut', { input: 40 });
    const s = await host.waitForInstance(id);
    expect(s.output).toBe(2 * ((39 * 40) / 2));
    expect(calls('double') - before).toBe(40);
    // Count replays in the store: one to schedule the 40 activities, one for all 40 completions.
    const db = new Database(storeFile, { readonly: true });
    try {
      const events = (db.prepare('SELECT event FROM history WHERE instance_id = ?').all(id) as { event: string }[]).map((r) => JSON.parse(r.event));
      expect(events.filter((e) => e.EventType === 12)).toHaveLength(2);
      expect(events.filter((e) => e.EventType === 5)).toHaveLength(40);
    } finally {
      db.close();
    }
  });

  it('with a dispatch latency, work still runs once, and no message is seen before its latency passed', async () => {
    const file = path.join(tmp.dir, 'latency.db');
    const slow = await startFixtureHost({ storeFile: file, maxConcurrentActivities: 64, dispatchLatencyMs: 100 });
    try {
      const before = calls('double');
      const id = slow.startNew('fanOut', { input: 10 });
      expect((await slow.waitForInstance(id)).output).toBe(2 * 45);
      expect(calls('double') - before).toBe(10);
      const db = new Database(file, { readonly: true });
      try {
        const events = (db.prepare('SELECT event FROM history WHERE instance_id = ?').all(id) as { event: string }[]).map((r) => JSON.parse(r.event));
        // The work item waits in the queue, then its result does: no episode sees a result sooner
        // than two latencies after the one that scheduled the work (a lower bound, not a timing).
        const episodes = events.filter((e) => e.EventType === 12).map((e) => Date.parse(e.Timestamp));
        expect(episodes.length).toBeGreaterThanOrEqual(2);
        for (const at of episodes.slice(1)) expect(at - episodes[0]!).toBeGreaterThanOrEqual(200);
        expect(events.filter((e) => e.EventType === 5)).toHaveLength(10);
      } finally {
        db.close();
      }
    } finally {
      await slow.stop();
    }
  });

  it('runs activities concurrently, never more than maxConcurrentActivities at once', async () => {
    const limited = await startFixtureHost({ maxConcurrentActivities: 3 });
    try {
      state.maxActive = 0;
      const id = limited.startNew('fanOutSlow', { input: 12 });
      expect((await limited.waitForInstance(id)).output).toBe(12);
      expect(state.maxActive).toBe(3);
    } finally {
      await limited.stop();
    }
  });

  it('round-trips payloads through JSON like the host', async () => {
    const id = host.startNew('roundTrip', { input: { nested: { list: [1, 'two', null] }, text: 'x' } });
    const s = await host.waitForInstance(id);
    expect(s.output).toEqual({
      a: 'plain string',
      b: { nested: { list: [1, 'two', null] }, text: 'x' },
      c: null,
      d: { when: '2024-01-02T03:04:05.000Z', list: [1, null, 'x'] },
    });
    expect(s.input).toEqual({ nested: { list: [1, 'two', null] }, text: 'x' });
  });

  it('Task.any: an external event beats a long timer', async () => {
    const id = host.startNew('race', { input: 60_000 });
    await waitUntil(() => host.getInstance(id)?.runtimeStatus === 'Running');
    expect(host.raiseEvent(id, 'approve', { by: 'ops' })).toBe('ok');
    const s = await host.waitForInstance(id);
    expect(s.output).toEqual({ winner: 'event', data: { by: 'ops' } });
  });

  it('Task.any: a durable timer fires when due and wins over a missing event', async () => {
    const id = host.startNew('race', { input: 200 });
    const s = await host.waitForInstance(id);
    expect(s.output).toEqual({ winner: 'timer' });
    const fired = host.getTimeline(id)?.find((e) => e.event === 'TimerFired');
    expect(fired).toBeDefined();
  });

  it('waits on a durable timer by the orchestration clock', async () => {
    const id = host.startNew('timer', { input: 300 });
    const s = await host.waitForInstance(id);
    expect(s.output as number).toBeGreaterThanOrEqual(300);
  });

  it('runs sub-orchestrations with chosen and default instance ids', async () => {
    const id = host.startNew('parent', { instanceId: 'parent-1', input: 'p1' });
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Completed');
    const out = s.output as Record<string, { instanceId: string; parent: string; greeting: string }>;
    expect(out.fixed).toEqual({ instanceId: 'child-p1', parent: 'parent-1', greeting: 'Hello, p1-fixed (hello)' });
    expect(out.x.greeting).toBe('Hello, p1-x (hello)');
    expect(out.y.greeting).toBe('Hello, p1-y (hello)');
    expect(out.x.instanceId).not.toBe(out.y.instanceId);
    expect(host.getInstance('child-p1')?.runtimeStatus).toBe('Completed');
    expect(host.getInstance(out.x.instanceId)?.name).toBe('child');
  });

  it('surfaces a failed sub-orchestration as a catchable error', async () => {
    const id = host.startNew('parentOfFailing');
    const s = await host.waitForInstance(id);
    expect(s.output).toMatch(/^caught: Orchestrator function 'failingChild' failed: Activity function 'boom' failed: cannot start the child/);
    expect(host.getInstance('failing-child')?.runtimeStatus).toBe('Failed');
  });

  it('retries an activity with callActivityWithRetry until it succeeds', async () => {
    const id = host.startNew('retry', { input: { key: 'r-ok', failures: 2, attempts: 4 } });
    const s = await host.waitForInstance(id);
    expect(s.output).toBe('ok after 3');
    expect(calls('flaky:r-ok')).toBe(3);
    const timeline = host.getTimeline(id) ?? [];
    expect(timeline.filter((e) => e.event === 'TaskFailed')).toHaveLength(2);
    expect(timeline.filter((e) => e.event === 'TimerFired')).toHaveLength(2);
  });

  it('gives up after maxNumberOfAttempts with a catchable error', async () => {
    const id = host.startNew('retry', { input: { key: 'r-never', failures: 100, attempts: 3 } });
    const s = await host.waitForInstance(id);
    expect(s.output).toMatch(/^gave up: Activity function 'flaky' failed: attempt 3 of r-never failed/);
    expect(calls('flaky:r-never')).toBe(3);
  });

  it('retries a sub-orchestration with callSubOrchestratorWithRetry on the same instance id', async () => {
    const id = host.startNew('subRetry', { input: 'sr-1' });
    const s = await host.waitForInstance(id);
    expect(s.output).toBe('ok after 2');
    expect(host.getInstance('retry-child-sr-1')?.runtimeStatus).toBe('Completed');
  });

  it('buffers external events raised before the orchestrator waits, and shows custom status', async () => {
    const id = host.startNew('approval');
    await waitUntil(() => host.getInstance(id)?.runtimeStatus === 'Running');
    expect(host.getInstance(id)?.customStatus).toEqual({ stage: 'preparing' });
    // Both events arrive while the 'slow' activity still runs: nothing waits for them yet.
    expect(host.raiseEvent(id, 'approve', 'first')).toBe('ok');
    expect(host.raiseEvent(id, 'approve', { n: 2 })).toBe('ok');
    const s = await host.waitForInstance(id);
    expect(s.output).toEqual({ first: 'first', second: { n: 2 } });
    expect(s.customStatus).toEqual({ stage: 'done' });
  });

  it('reports custom status while an orchestration waits', async () => {
    const id = host.startNew('approval');
    await waitUntil(() => (host.getInstance(id)?.customStatus as { stage?: string } | null)?.stage === 'waiting');
    expect(host.getInstance(id)?.runtimeStatus).toBe('Running');
    host.raiseEvent(id, 'approve', 1);
    host.raiseEvent(id, 'approve', 2);
    expect((await host.waitForInstance(id)).customStatus).toEqual({ stage: 'done' });
  });

  it('continueAsNew restarts with new input and a fresh history under the same id', async () => {
    const before = calls('tick');
    const id = host.startNew('loop', { instanceId: 'loop-1', input: { n: 0, max: 4 } });
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toBe('finished at 4');
    expect(s.input).toEqual({ n: 4, max: 4 });
    expect(s.customStatus).toEqual({ iteration: 4 });
    expect(calls('tick') - before).toBe(5);
    const timeline = host.getTimeline(id) ?? [];
    expect(timeline.filter((e) => e.event === 'ExecutionStarted')).toHaveLength(1);
    expect(timeline.filter((e) => e.event === 'TaskCompleted')).toHaveLength(1);
  });

  it('delivers external events to executions after continueAsNew', async () => {
    const id = host.startNew('collector', { input: { got: [], want: 3 } });
    for (const item of ['a', 'b', 'c']) {
      await waitUntil(() => host.getInstance(id)?.runtimeStatus === 'Running');
      host.raiseEvent(id, 'item', item);
      await waitUntil(() => ((host.getInstance(id)?.input as { got: unknown[] }).got.includes(item)) || host.getInstance(id)?.runtimeStatus === 'Completed');
    }
    expect((await host.waitForInstance(id)).output).toEqual(['a', 'b', 'c']);
  });

  it('preserves unprocessed events across continueAsNew when asked to', async () => {
    const keeper = await startFixtureHost({ preserveUnprocessedEvents: true });
    try {
      const id = keeper.startNew('collector', { input: { got: [], want: 3 } });
      await waitUntil(() => keeper.getInstance(id)?.runtimeStatus === 'Running');
      // All three at once: the first execution consumes one, the others must be carried over.
      keeper.raiseEvent(id, 'item', 1);
      keeper.raiseEvent(id, 'item', 2);
      keeper.raiseEvent(id, 'item', 3);
      expect((await keeper.waitForInstance(id)).output).toEqual([1, 2, 3]);
    } finally {
      await keeper.stop();
    }
  });

  it('lets the orchestrator catch an activity failure with its message', async () => {
    const id = host.startNew('caught');
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toMatch(/^caught: Activity function 'boom' failed: cannot reach the VM/);
  });

  it('fails the instance on an uncaught activity failure, with the message as output', async () => {
    const id = host.startNew('uncaught');
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe("Activity function 'boom' failed: cannot install docker");
    const failed = host.getTimeline(id)?.find((e) => e.event === 'TaskFailed');
    expect(failed).toMatchObject({ name: 'boom', failure: "Activity function 'boom' failed: cannot install docker" });
  });

  it('terminates a running instance', async () => {
    const id = host.startNew('race', { input: 60_000 });
    await waitUntil(() => host.getInstance(id)?.runtimeStatus === 'Running');
    expect(host.terminate(id, 'no longer needed')).toBe('ok');
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Terminated');
    expect(s.output).toBe('no longer needed');
    expect(host.terminate(id, 'again')).toBe('gone');
    expect(host.raiseEvent(id, 'approve', 1)).toBe('gone');
  });

  it('terminating a sub-orchestration fails the parent task with a catchable error', async () => {
    const id = host.startNew('parentOfRace', { input: 'term-child' });
    await waitUntil(() => host.getInstance('term-child')?.runtimeStatus === 'Running');
    expect(host.terminate('term-child', 'bye')).toBe('ok');
    const s = await host.waitForInstance(id);
    expect(s.output).toMatch(/^caught: Orchestrator function 'race' failed: instance 'term-child' was terminated: bye/);
  });

  it('refuses to start a running instance id and replaces a finished one', async () => {
    const id = host.startNew('race', { instanceId: 'singleton', input: 60_000 });
    await waitUntil(() => host.getInstance(id)?.runtimeStatus === 'Running');
    expect(() => host.startNew('race', { instanceId: 'singleton', input: 1 })).toThrow(/already Running/);
    host.raiseEvent('singleton', 'approve', 'first run');
    expect((await host.waitForInstance('singleton')).output).toEqual({ winner: 'event', data: 'first run' });
    host.startNew('sequence', { instanceId: 'singleton', input: ['second-run'] });
    const s = await host.waitForInstance('singleton');
    expect(s.name).toBe('sequence');
    expect(s.output).toEqual(['Hello, second-run (hello)']);
    expect(host.getTimeline('singleton')?.some((e) => e.name === 'approve')).toBe(false);
  });

  it('lists instances newest first with filters and renders a timeline', async () => {
    const from = new Date();
    const a = host.startNew('sequence', { input: ['list-a'] });
    await host.waitForInstance(a);
    const b = host.startNew('uncaught');
    await host.waitForInstance(b);
    const recent = host.listInstances({ createdTimeFrom: from });
    expect(recent.map((s) => s.instanceId)).toEqual([b, a]);
    expect(host.listInstances({ createdTimeFrom: from, runtimeStatus: ['Failed'] }).map((s) => s.instanceId)).toEqual([b]);
    expect(host.listInstances({ createdTimeFrom: from, name: 'sequence' }).map((s) => s.instanceId)).toEqual([a]);
    expect(host.listInstances({ createdTimeTo: new Date(from.getTime() - 1) }).some((s) => s.instanceId === a)).toBe(false);
    const timeline = host.getTimeline(a) ?? [];
    expect(timeline.map((e) => e.event)).toEqual(['ExecutionStarted', 'TaskScheduled', 'TaskCompleted', 'ExecutionCompleted']);
    expect(timeline[2]).toMatchObject({ name: 'hello', result: 'Hello, list-a (hello)' });
    expect(typeof timeline[2].durationMs).toBe('number');
  });
});
