/** Non-determinism detection: the SDK matches results by sequence id only; the host checks as DTFx does (sequence id, event type, name case-insensitive). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFixtureHost, waitUntil, type TestHost } from './helpers.js';
import { state } from '../../fixtures/host-app/state.js';

describe('local host: non-determinism detection', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(() => host?.stop());
  afterEach(() => {
    state.variant = 'A';
  });

  it('fails an orchestrator whose code now makes a different call, naming orchestration, position and both actions', async () => {
    state.variant = 'A';
    const before = state.calls.stepB ?? 0;
    const id = host.startNew('nondet');
    await waitUntil(() => host.getTimeline(id)?.some((e) => e.event === 'TaskCompleted') === true);
    state.variant = 'B';
    host.raiseEvent(id, 'go', null);
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe(
      "Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with sequence number 0 named 'stepA', " +
        "but the current orchestration replay instead scheduled an activity task named 'stepB' with this sequence number.  " +
        'Was a change made to the orchestrator code after this instance had already started running?',
    );
    // The wrong activity never ran: the SDK alone would have handed it stepA's result.
    expect(state.calls.stepB ?? 0).toBe(before);
    expect(host.getTimeline(id)?.at(-1)).toMatchObject({ event: 'ExecutionFailed' });
    expect(host.logs.some((l) => l.includes('nondet') && l.includes('Non-Deterministic workflow detected'))).toBe(true);
  });

  it('detects a timer where history has an activity', async () => {
    state.variant = 'A';
    const id = host.startNew('nondetKind');
    await waitUntil(() => host.getTimeline(id)?.some((e) => e.event === 'TaskCompleted') === true);
    state.variant = 'B';
    host.raiseEvent(id, 'go', null);
    const s = await host.waitForInstance(id);
    expect(s.output).toMatch(
      /^Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with sequence number 0 named 'stepA', but the current orchestration replay instead produced a CreateTimerOrchestratorAction action with this sequence number/,
    );
  });

  it('like DTFx, does not compare a sub-orchestration\'s instance id: the recorded child\'s result reaches the task', async () => {
    state.variant = 'A';
    const id = host.startNew('nondetSub', { instanceId: 'nd-sub-parent' });
    await waitUntil(() => host.getTimeline(id)?.some((e) => e.event === 'SubOrchestrationInstanceCompleted') === true);
    state.variant = 'B';
    host.raiseEvent(id, 'go', null);
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(host.getInstance('nd-sub-B-nd-sub-parent')).toBeUndefined();
  });

  it('compares names case-insensitively, as DTFx does', async () => {
    state.variant = 'A';
    const id = host.startNew('nondetCase');
    await waitUntil(() => host.getTimeline(id)?.some((e) => e.event === 'TaskCompleted') === true);
    state.variant = 'B';
    host.raiseEvent(id, 'go', null);
    const s = await host.waitForInstance(id);
    expect(s.runtimeStatus, JSON.stringify(s.output)).toBe('Completed');
  });

  it('never reports deterministic orchestrators, across many replays and shapes', async () => {
    const ids = [
      host.startNew('det'),
      host.startNew('fanOut', { input: 25 }),
      host.startNew('parent', { input: 'nd' }),
      host.startNew('retry', { input: { key: 'nd-retry', failures: 1, attempts: 3 } }),
      host.startNew('loop', { input: { n: 0, max: 2 } }),
      host.startNew('race', { input: 50 }),
    ];
    await waitUntil(() => host.getTimeline(ids[0])?.some((e) => e.event === 'TaskCompleted') === true);
    host.raiseEvent(ids[0], 'go', null);
    for (const id of ids) {
      const s = await host.waitForInstance(id);
      expect(s.runtimeStatus, `${s.name}: ${JSON.stringify(s.output)}`).toBe('Completed');
    }
    expect((await host.waitForInstance(ids[0])).output).toBe('AB');
    expect(host.logs.some((l) => /Non-Deterministic workflow detected/.test(l) && !/nondet/.test(l))).toBe(false);
  });
});
