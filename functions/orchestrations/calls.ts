/**
 * Typed activity calls for orchestrations (after Temporal's proxyActivities): the name picks the
 * input and output types from the Activities table, so a call site cannot pass the wrong input or
 * read the wrong result, and no orchestration casts what `yield` returns.
 */
import type { OrchestrationContext, RetryOptions, Task } from 'durable-functions';
import type { Activities, ActivityName } from '../activities/contracts.js';

/** A task whose result has the table's output type (carried as a type only). */
export interface TypedTask<T> extends Task {
  readonly __output?: T;
}

type In<K extends ActivityName> = Activities[K]['input'];
type Out<K extends ActivityName> = Activities[K]['output'];
/** No argument for activities without input. */
type InputArgs<K extends ActivityName> = In<K> extends undefined ? [] : [input: In<K>];

/** The task of one activity call (not yet yielded: for Task.all, or to yield later). */
export function activityTask<K extends ActivityName>(context: OrchestrationContext, name: K, ...input: InputArgs<K>): TypedTask<Out<K>> {
  return context.df.callActivity(name, input[0]);
}

export function activityTaskWithRetry<K extends ActivityName>(context: OrchestrationContext, name: K, retry: RetryOptions, ...input: InputArgs<K>): TypedTask<Out<K>> {
  const task = context.df.callActivityWithRetry(name, retry, input[0]);
  retried.add(task);
  return task;
}

/** Tasks that carry the SDK's retries (their timers and new attempts are the SDK's to schedule). */
const retried = new WeakSet<Task>();

/** Whether a task, or any task inside it (a Task.all or Task.any over it), carries the SDK's retries. */
export function carriesRetries(task: Task): boolean {
  if (retried.has(task)) return true;
  // The SDK's compound tasks (Task.all, Task.any) hold what they wait on in `children`.
  const children = (task as { children?: unknown }).children;
  return Array.isArray(children) && children.some((c) => carriesRetries(c as Task));
}

/**
 * Yield a typed task and return its result. The SDK types what `yield` returns as unknown; this is
 * the one place it becomes the table's type (the task was built from the table, so it is that type).
 */
export function* resultOf<T>(task: TypedTask<T>): Generator<Task, T, unknown> {
  return (yield task) as T;
}

/** The result of a typed task that has completed (the same boundary as resultOf). */
export function valueOf<T>(task: TypedTask<T>): T {
  return task.result as T;
}

/** Call an activity and wait for its result. */
export function* call<K extends ActivityName>(context: OrchestrationContext, name: K, ...input: InputArgs<K>): Generator<Task, Out<K>, unknown> {
  return yield* resultOf(activityTask(context, name, ...input));
}

/** Call an activity with retries and wait for its result. */
export function* callWithRetry<K extends ActivityName>(context: OrchestrationContext, name: K, retry: RetryOptions, ...input: InputArgs<K>): Generator<Task, Out<K>, unknown> {
  return yield* resultOf(activityTaskWithRetry(context, name, retry, ...input));
}
