/**
 * Targeted cases of the extension's action processing (local/host/shim.ts) against the SDK's own
 * numbering: a task listed again, retries to exhaustion, a timer past the backend maximum.
 */
import { describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { run, bootActivity } from './driver.js';
import { A, type NotifyInput } from '../../functions/activities/contracts.js';
import { activityTask, activityTaskWithRetry } from '../../functions/orchestrations/calls.js';
import { transientRetry, unwaited } from '../../functions/orchestrations/tasks.js';
import type { Topology } from '../../functions/platform/topology.js';

const ok = (value: unknown) => ({ ok: true as const, value });

describe('conformance: targeted cases', () => {
  it('a new Task.any over tasks in flight: the extension schedules them again and a later task gets a duplicate\'s result', async () => {
    const relist = function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
      const open: Task[] = ['a', 'b', 'c'].map((x) => context.df.callActivity('work', x));
      while (open.length > 0) {
        const done = open.find((t) => t.isCompleted) ?? ((yield context.df.Task.any(open)) as Task);
        open.splice(open.indexOf(done), 1);
      }
      return yield context.df.callActivity('work', 'after');
    };
    const problems: string[] = [];
    const outputs: unknown[] = [];
    for (const seed of [1, 2, 3, 4]) {
      const r = await run({ orchestrators: { relist }, activities: ['work'], script: (_n, x) => ok(x), root: { name: 'relist', id: 'r', input: null }, seed, maxBatch: 1 });
      problems.push(...r.problems);
      outputs.push(r.instances.get('r')!.output);
      expect([...r.scheduled].some(([, n]) => n > 1)).toBe(true);
    }
    expect(problems.some((p) => /listed again/.test(p))).toBe(true);
    expect(problems.some((p) => /the SDK waits on id \d+ for work, the extension gave id \d+ to work/.test(p) || /listed again/.test(p))).toBe(true);
    // In some order the task for 'after' received a duplicate's result.
    expect(outputs.some((o) => o !== 'after')).toBe(true);
  });

  it('one Task.all, then each task alone: every id agrees and nothing runs twice', async () => {
    const safe = function* (context: OrchestrationContext) {
      const tasks: Task[] = ['a', 'b', 'c'].map((x) => context.df.callActivity('work', x));
      try {
        yield context.df.Task.all(tasks);
      } catch {
        for (const t of tasks) if (!t.isCompleted && !t.isFaulted) yield t;
      }
      return tasks.map((t) => (t.isFaulted ? 'failed' : t.result));
    };
    for (const seed of [1, 2, 3]) {
      const r = await run({
        orchestrators: { safe },
        activities: ['work'],
        script: (_n, x) => (x === 'b' ? { ok: false, error: 'no' } : ok(x)),
        root: { name: 'safe', id: 's', input: null },
        seed,
        maxBatch: 1,
      });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled.values()].every((n) => n === 1)).toBe(true);
      expect(r.instances.get('s')!.output).toEqual(['a', 'failed', 'c']);
    }
  });

  it('retries to exhaustion: attempt, timer, attempt, timer, attempt, dummy timer; ids agree with the SDK', async () => {
    const retry = function* (context: OrchestrationContext) {
      const options = new df.RetryOptions(1000, 3);
      options.backoffCoefficient = 2;
      try {
        yield context.df.callActivityWithRetry('flaky', options, 'x');
      } catch (e) {
        return `gave up: ${(e as Error).message}`;
      }
      return 'ok';
    };
    const r = await run({ orchestrators: { retry }, activities: ['flaky'], script: () => ({ ok: false, error: 'down' }), root: { name: 'retry', id: 'q', input: null }, seed: 1 });
    expect(r.problems).toEqual([]);
    const inst = r.instances.get('q')!;
    expect(inst.output).toMatch(/^gave up: Activity function 'flaky' failed: down/);
    const kinds = inst.history.filter((e) => e.EventType === 4 || e.EventType === 10).map((e) => (e.EventType === 4 ? 'activity' : 'timer'));
    expect(kinds).toEqual(['activity', 'timer', 'activity', 'timer', 'activity', 'timer']);
    const timers = inst.history.filter((e) => e.EventType === 10);
    const delays = timers.map((t) => t.FireAt!.getTime() - t.Timestamp.getTime());
    // DTFx: 1 s, then 2 s (coefficient 2), then a dummy timer at once after the last attempt.
    expect(delays).toEqual([1000, 2000, 0]);
  });

  it('a timer past the 6-day maximum becomes 3-day pieces, each with an id the SDK agrees with', async () => {
    const long = function* (context: OrchestrationContext) {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 7 * 86_400_000));
      return 'fired';
    };
    const r = await run({ orchestrators: { long }, activities: [], script: () => ok(null), root: { name: 'long', id: 'l', input: null }, seed: 1 });
    expect(r.problems).toEqual([]);
    const inst = r.instances.get('l')!;
    expect(inst.output).toBe('fired');
    const pieces = inst.history.filter((e) => e.EventType === 10).map((t) => Math.round((t.FireAt!.getTime() - t.Timestamp.getTime()) / 3_600_000));
    expect(pieces).toEqual([72, 72, 24]);
  });

  it('unwaited refuses a task that carries SDK retries, alone or inside a Task.all: the orchestration fails at once, saying so', async () => {
    const shipping = (how: 'plain' | 'retried' | 'inside') =>
      function* (context: OrchestrationContext): Generator<Task, unknown, unknown> {
        // The shipped work raises the event the orchestration waits for.
        const tell: NotifyInput = { instanceId: context.df.instanceId, event: 'go', data: 'told' };
        const task = how === 'plain' ? activityTask(context, A.notifyInstance, tell) : activityTaskWithRetry(context, A.notifyInstance, transientRetry, tell);
        const wait = context.df.waitForExternalEvent('go');
        yield context.df.Task.any([wait, unwaited(context, [how === 'inside' ? context.df.Task.all([task]) : task])]);
        return wait.result;
      };
    const outcome = async (how: 'plain' | 'retried' | 'inside') => {
      const r = await run({
        orchestrators: { ship: shipping(how) },
        activities: [A.notifyInstance],
        script: (name, input, api) => bootActivity(name, input, api, {} as Topology)!,
        root: { name: 'ship', id: 'u', input: null },
        seed: 1,
      });
      expect(r.problems).toEqual([]);
      const i = r.instances.get('u')!;
      return { status: i.status, output: i.output };
    };
    expect(await outcome('plain')).toEqual({ status: 'Completed', output: 'told' });
    for (const how of ['retried', 'inside'] as const) {
      const { status, output } = await outcome(how);
      expect(status).toBe('Failed');
      expect(JSON.stringify(output)).toMatch(/unwaited: a task with SDK retries cannot ship beside a wait/);
    }
  });
});
