/** Small orchestration helpers. Deterministic: they only look at task state the SDK replays. */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type { RetryAfter } from '../activities/contracts.js';

/**
 * The next finished task of `tasks`. A task already finished is returned without yielding: the SDK's
 * Task.any never completes for children that finished before it was built, which a loop over
 * "what is still in flight" meets whenever several tasks finish in one replay.
 */
export function* nextDone(context: OrchestrationContext, tasks: Task[]): Generator<Task, Task, unknown> {
  const done = tasks.find((t) => t.isCompleted || t.isFaulted);
  if (done) return done;
  return (yield context.df.Task.any(tasks)) as Task;
}

/** Waits for every task, never throwing: each outcome is reported on its own. */
export function* settleAll<T>(
  context: OrchestrationContext,
  tasks: Task[],
): Generator<Task, Array<{ ok: true; value: T } | { ok: false; error: string }>, unknown> {
  const open = [...tasks];
  while (open.length > 0) {
    const done = yield* nextDone(context, open);
    open.splice(open.indexOf(done), 1);
  }
  return tasks.map((t) => (t.isFaulted ? { ok: false as const, error: failureMessage(t.result) } : { ok: true as const, value: t.result as T }));
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

/** At most this many durable waits for one throttled ARM call (Compute's Retry-After is up to 20 min). */
export const MAX_RETRY_AFTER_WAITS = 3;

/**
 * Calls an ARM activity (with transientRetry); when it answers RetryAfter (ARM throttled it with a
 * long Retry-After), waits on a durable timer and calls again, so no activity sleeps past its
 * timeout. Deterministic: the timer's due time comes from the orchestration clock.
 */
export function* callArmActivity<T>(context: OrchestrationContext, name: string, input: unknown): Generator<Task, T, unknown> {
  for (let waits = 0; ; waits++) {
    const result = (yield context.df.callActivityWithRetry(name, transientRetry, input)) as T | RetryAfter;
    const later = (result as RetryAfter | null)?.retryAfter;
    if (!later) return result as T;
    if (waits >= MAX_RETRY_AFTER_WAITS) throw new Error(`${later.reason}; still throttled after ${MAX_RETRY_AFTER_WAITS} waits`);
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + later.seconds * 1000));
  }
}
