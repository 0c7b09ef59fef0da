/**
 * Orchestrator histories of azure-functions-durable-js (test/testobjects/testhistories.ts and
 * TestOrchestrations.ts at Azure/azure-functions-durable-js@c212f6c4129c2c4fd128f67af688a1545b4c81a1),
 * rebuilt episode by episode: before each episode's scheduled events, the extension's processing
 * (local/host/shim.ts) replays the history so far and must schedule exactly what the history records
 * next (type, sequence id, name, timer time). The orchestrators are written here after those tests.
 */
import { describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { EventType, type HistoryEvent } from '../../local/host/history.js';
import { replayOnce } from './driver.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const DAY = 86_400_000;
const e = (type: number, ms: number, fields: Partial<HistoryEvent> = {}): HistoryEvent => ({ EventType: type, EventId: -1, IsPlayed: false, Timestamp: at(ms), ...fields });
const started = (ms: number) => e(EventType.OrchestratorStarted, ms);
const completed = (ms: number) => e(EventType.OrchestratorCompleted, ms);

type Expected = { type: 'activity' | 'timer'; seq: number; name?: string; fireAt?: Date };
interface Episode {
  /** The events the episode begins with (OrchestratorStarted, ExecutionStarted, completions). */
  begin: HistoryEvent[];
  /** What the history records as scheduled in this episode. */
  scheduled: Expected[];
  done?: unknown;
}

/** Replays each episode's beginning and compares the scheduled work with the history's. */
async function check(orchestrator: unknown, episodes: Episode[], input: unknown, activities: string[]): Promise<void> {
  const history: HistoryEvent[] = [];
  for (const [k, ep] of episodes.entries()) {
    for (const h of history) h.IsPlayed = true;
    history.push(...ep.begin);
    const r = await replayOnce(orchestrator, history, { input, activities });
    expect(r.failure, `episode ${k}`).toBeUndefined();
    expect(r.relisted, `episode ${k}`).toBe(0);
    const got = r.newWork.map((w) => ({ type: w.kind, seq: w.seq, ...(w.kind === 'activity' ? { name: w.name } : { fireAt: w.fireAt }) }));
    expect(got, `episode ${k}`).toEqual(ep.scheduled);
    if ('done' in ep) {
      expect(r.isDone && r.finished, `episode ${k} done`).toBe(true);
      expect(r.output).toEqual(ep.done);
    }
    const ms = ep.begin[0]!.Timestamp.getTime() - T0.getTime();
    for (const s of ep.scheduled) {
      history.push(
        s.type === 'activity'
          ? e(EventType.TaskScheduled, ms, { EventId: s.seq, Name: s.name })
          : e(EventType.TimerCreated, ms, { EventId: s.seq, FireAt: s.fireAt }),
      );
    }
    history.push(completed(ms));
  }
}

const anyAOrB = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
  const inOrder = context.df.getInput();
  const tasks = [context.df.callActivity('TaskA', inOrder), context.df.callActivity('TaskB', inOrder)];
  const winner = (yield context.df.Task.any(tasks)) as Task;
  return winner.result;
};

const anyAOrBYieldATwice = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
  const inOrder = context.df.getInput();
  const tasks = [context.df.callActivity('TaskA', inOrder), context.df.callActivity('TaskB', inOrder)];
  const winner = (yield context.df.Task.any(tasks)) as Task;
  yield tasks[0]!;
  return winner.result;
};

const timerActivityRace = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
  const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
  const activity = context.df.callActivity('TaskA');
  const winner = yield context.df.Task.any([timer, activity]);
  if (winner === activity) {
    yield context.df.callActivity('TaskB');
    return 'Activity finished';
  }
  return 'Timer finished';
};

const sayHelloWithRetry = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
  const options = new df.RetryOptions(10_000, 2);
  return yield context.df.callActivityWithRetry('Hello', options, context.df.getInput());
};

const waitOnTimer = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
  yield context.df.createTimer(new Date(context.df.getInput() as string));
  return 'Timer fired!';
};

const start = (name: string, input: unknown) => [started(0), e(EventType.ExecutionStarted, 0, { Name: name, Input: JSON.stringify(input) })];

describe('conformance: azure-functions-durable-js test histories under the extension\'s action processing', () => {
  it('GetAnyAOrB (in order and out of order): both tasks scheduled once, the winner\'s result returned', async () => {
    for (const inOrder of [true, false]) {
      await check(
        anyAOrB,
        [
          { begin: start('AnyAOrB', inOrder), scheduled: [{ type: 'activity', seq: 0, name: 'TaskA' }, { type: 'activity', seq: 1, name: 'TaskB' }] },
          { begin: [started(1000), e(EventType.TaskCompleted, 1000, { TaskScheduledId: inOrder ? 0 : 1, Result: JSON.stringify(inOrder ? 'A' : 'B') })], scheduled: [], done: inOrder ? 'A' : 'B' },
        ],
        inOrder,
        ['TaskA', 'TaskB'],
      );
    }
  });

  it('AnyAOrBYieldATwice: yielding a task alone after Task.any schedules nothing again', async () => {
    await check(
      anyAOrBYieldATwice,
      [
        { begin: start('AnyAOrBYieldATwice', false), scheduled: [{ type: 'activity', seq: 0, name: 'TaskA' }, { type: 'activity', seq: 1, name: 'TaskB' }] },
        { begin: [started(1000), e(EventType.TaskCompleted, 1000, { TaskScheduledId: 1, Result: '"B"' })], scheduled: [] },
        { begin: [started(2000), e(EventType.TaskCompleted, 2000, { TaskScheduledId: 0, Result: '"A"' })], scheduled: [], done: 'B' },
      ],
      false,
      ['TaskA', 'TaskB'],
    );
  });

  it('GetTimerActivityRaceActivityWinsHistory: timer #0 and TaskA #1, then TaskB #2 after TaskA wins', async () => {
    await check(
      timerActivityRace,
      [
        { begin: start('TimerActivityRace', null), scheduled: [{ type: 'timer', seq: 0, fireAt: at(1000) }, { type: 'activity', seq: 1, name: 'TaskA' }] },
        { begin: [started(500), e(EventType.TaskCompleted, 500, { TaskScheduledId: 1, Result: 'null' })], scheduled: [{ type: 'activity', seq: 2, name: 'TaskB' }] },
        { begin: [started(1100), e(EventType.TimerFired, 1100, { TimerId: 0, FireAt: at(1000) })], scheduled: [] },
        { begin: [started(2000), e(EventType.TaskCompleted, 2000, { TaskScheduledId: 2, Result: 'null' })], scheduled: [], done: 'Activity finished' },
      ],
      null,
      ['TaskA', 'TaskB'],
    );
  });

  it('GetSayHelloWithActivityRetryRetryOne: attempt #0, retry timer #1 at failure + interval, attempt #2', async () => {
    await check(
      sayHelloWithRetry,
      [
        { begin: start('SayHelloWithActivityRetry', 'World'), scheduled: [{ type: 'activity', seq: 0, name: 'Hello' }] },
        {
          begin: [started(1000), e(EventType.TaskFailed, 1000, { TaskScheduledId: 0, Reason: "Activity function 'Hello' failed: Result: Failure", Details: 'Big stack trace here' })],
          scheduled: [{ type: 'timer', seq: 1, fireAt: at(11_000) }],
        },
        { begin: [started(11_000), e(EventType.TimerFired, 11_000, { TimerId: 1, FireAt: at(11_000) })], scheduled: [{ type: 'activity', seq: 2, name: 'Hello' }] },
        { begin: [started(12_000), e(EventType.TaskCompleted, 12_000, { TaskScheduledId: 2, Result: '"Hello, World!"' })], scheduled: [], done: 'Hello, World!' },
      ],
      'World',
      ['Hello'],
    );
  });

  it('GetWaitOnLongTimerHalfway: a 7-day timer is 3 days, 3 days, then the 1 day left', async () => {
    const fireAt = at(7 * DAY);
    await check(
      waitOnTimer,
      [
        { begin: start('WaitOnTimer', fireAt), scheduled: [{ type: 'timer', seq: 0, fireAt: at(3 * DAY) }] },
        { begin: [started(3 * DAY), e(EventType.TimerFired, 3 * DAY, { TimerId: 0, FireAt: at(3 * DAY) })], scheduled: [{ type: 'timer', seq: 1, fireAt: at(6 * DAY) }] },
        { begin: [started(6 * DAY), e(EventType.TimerFired, 6 * DAY, { TimerId: 1, FireAt: at(6 * DAY) })], scheduled: [{ type: 'timer', seq: 2, fireAt }] },
        { begin: [started(7 * DAY), e(EventType.TimerFired, 7 * DAY, { TimerId: 2, FireAt: fireAt })], scheduled: [], done: 'Timer fired!' },
      ],
      fireAt.toISOString(),
      [],
    );
  });
});
