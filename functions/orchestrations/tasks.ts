/** Small orchestration helpers. Deterministic: they only look at task state the SDK replays. */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { A, type ActivityName, type Activities, type NotifyInput, type RetryAfter, type StartedService } from '../activities/contracts.js';
import type { GroupSummary } from './boot-group.js';
import type { BootStepOutput } from './boot-step.js';
import type { BootVmOutput } from './boot-vm.js';
import type { ImageOutcome } from './build-images.js';
import { callWithRetry, carriesRetries, valueOf, type TypedTask } from './calls.js';

/**
 * Waits for every task, never throwing: each outcome is reported on its own.
 *
 * On Azure the extension gives every task listed in a Task.any/Task.all a new sequence id, so a task
 * must appear in exactly one compound (azure-functions-durable-js#574). Here the tasks are yielded in
 * one Task.all; when it fails fast, each task still running is then yielded on its own, which the SDK
 * does not list again (the extension's WhenAll waits for all of them anyway).
 */
/** One task's outcome, as settleAll reports it. */
export type Settled<T = unknown> = { ok: true; value: T } | { ok: false; error: string };

export function* settleAll<T>(
  context: OrchestrationContext,
  tasks: Array<TypedTask<T>>,
  /** The Task.all of `tasks` when the caller already yielded it inside a Task.any: yielded again, not listed anew. */
  all?: Task,
): Generator<Task, Array<Settled<T>>, unknown> {
  if (tasks.length > 0) {
    try {
      yield all ?? context.df.Task.all(tasks);
    } catch {
      for (const t of tasks) {
        if (t.isCompleted || t.isFaulted) continue;
        try {
          yield t;
        } catch {
          // reported below
        }
      }
    }
  }
  return tasks.map((t) => (t.isFaulted ? { ok: false as const, error: failureMessage(t.result) } : { ok: true as const, value: valueOf(t) }));
}

/** The message of an activity or sub-orchestration failure, without the host's wrapping. */
export function failureMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Sub-orchestration failures arrive wrapped: keep the innermost reason a person can act on.
  return message.replace(/^(Activity|Orchestrator) function '[^']+' failed: /, '').trim();
}

/** Transient failures (ARM throttling beyond the SDK's own retries, SSH while a VM boots). */
export const transientRetry = (() => {
  const options = new df.RetryOptions(2_000, 3);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 30_000;
  return options;
})();

export function isoAt(context: OrchestrationContext): string {
  return context.df.currentUtcDateTime.toISOString();
}

/** Where a unit of a boot reports when it is done: the boot's instance and the run it belongs to. */
export interface BootNotify {
  instanceId: string;
  /** Tells this boot's reports from those of an earlier boot still finishing. */
  run: string;
}

export const BOOT_PROGRESS = 'bootProgress';

/** What a unit of a boot reports. */
export type BootReport = { run: string; name: string } & (
  | { kind: 'vm'; output: BootVmOutput }
  /** Images of the VM `name` done since its last report; `last`: no build of that VM is left. */
  | { kind: 'images'; images: ImageOutcome[]; last: boolean }
  | { kind: 'step'; output: BootStepOutput }
  /** What the look at the VM `name`'s services found, when the VM reported ready before it. */
  | { kind: 'adopted'; adopted: StartedService[] }
  /** From another group of the boot (`name` its instance): steps of its that steps here depend on settled. */
  | { kind: 'dep'; outcomes: Array<{ step: string; ok: boolean }> }
  /** A group (`name` its instance) to the root: everything in it settled, the monitoring service aside. */
  | { kind: 'group'; summary: GroupSummary }
  /** An alarm clock (`name` its instance, alarm-clock.ts): time to look for reports that will never come. */
  | { kind: 'tick' }
);

/** An event no one raises: a wait for it never completes (see `unwaited`). */
const UNRAISED_EVENT = 'lcmUnraised';

/**
 * Work scheduled and not waited for: yielded beside a report wait in an arm that never completes
 * (it also waits for an event no one raises), so the wait always wins. Each task is wrapped in a
 * Task.any, which never fails, because the SDK's Task.all fails as soon as one child does while the
 * extension's Task.WhenAll waits for all of them. No task shipped here may carry SDK retries: a
 * retry's timer and new attempt are then listed in another order on replay than they ran, and the
 * extension fails the orchestration as non-deterministic (the conformance driver shows it).
 */
export function unwaited(context: OrchestrationContext, tasks: Task[]): Task {
  // Said, and checked: a retried task here breaks the orchestration only on the real host, later.
  if (tasks.some(carriesRetries)) throw new Error('unwaited: a task with SDK retries cannot ship beside a wait (its retries replay in another order than they ran): send it without retries and retry it in a later round');
  return context.df.Task.all([context.df.waitForExternalEvent(UNRAISED_EVENT), ...tasks.map((t) => context.df.Task.any([t]))]);
}

/** Report a unit's outcome to the boot that started it (an event: it takes no sequence id in the boot). */
export function* reportTo(context: OrchestrationContext, notify: BootNotify, report: BootReport): Generator<Task, void, unknown> {
  yield* callWithRetry(context, A.notifyInstance, transientRetry, { instanceId: notify.instanceId, event: BOOT_PROGRESS, data: report } satisfies NotifyInput);
}

/** At most this many durable waits for one throttled ARM call (Compute's Retry-After is up to 20 min). */
export const MAX_RETRY_AFTER_WAITS = 3;

/**
 * Calls an ARM activity (with transientRetry); when it answers RetryAfter (ARM throttled it with a
 * long Retry-After), waits on a durable timer and calls again, so no activity sleeps past its
 * timeout. Deterministic: the timer's due time comes from the orchestration clock.
 */
/** Activities that may answer RetryAfter (ARM calls). */
type ArmActivity = { [K in ActivityName]: RetryAfter extends Activities[K]['output'] ? K : never }[ActivityName];

export function* callArmActivity<K extends ArmActivity>(
  context: OrchestrationContext,
  name: K,
  input: Activities[K]['input'],
): Generator<Task, Exclude<Activities[K]['output'], RetryAfter>, unknown> {
  return (yield* callWithRetryAfter(context, name, input)) as Exclude<Activities[K]['output'], RetryAfter>;
}

/** The loop behind callArmActivity, for any activity name (test fixtures call it with their own). */
export function* callWithRetryAfter(context: OrchestrationContext, name: string, input: unknown): Generator<Task, unknown, unknown> {
  for (let waits = 0; ; waits++) {
    const result: unknown = yield context.df.callActivityWithRetry(name, transientRetry, input);
    if (!isRetryAfter(result)) return result;
    const later = result.retryAfter;
    if (waits >= MAX_RETRY_AFTER_WAITS) throw new Error(`${later.reason}; still throttled after ${MAX_RETRY_AFTER_WAITS} waits`);
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + later.seconds * 1000));
  }
}

function isRetryAfter(value: unknown): value is RetryAfter {
  return typeof value === 'object' && value !== null && 'retryAfter' in value;
}
