/**
 * The durable engine: runs orchestrations by replaying their history through the SDK's own
 * orchestrator handler, executes the actions it returns (activities, timers, sub-orchestrations,
 * retries), detects non-determinism and persists every step in the HistoryStore.
 *
 * One replay ("turn") per instance at a time; every inbox event visible when a turn starts goes
 * into that one replay, so completions that arrive together are batched.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { format } from 'node:util';
import azureFunctions from '@azure/functions';
import {
  ActionType,
  SUPPORTED_TYPES,
  describeAction,
  flattenActions,
  formatAction,
  typeName,
  type ActionDescriptor,
  type SdkAction,
} from './actions.js';
import { walkActions, type ShimWork } from './shim.js';
import { EventType, event, toJsonText, type HistoryEvent } from './history.js';
import type { Registration } from './registry.js';
import { ACTIVE_STATUSES, HistoryStore, type InstanceFilter, type InstanceRow, type WorkRow } from './store.js';
import { toStatus, toTimeline, type OrchestrationStatus, type StatusOptions, type TimelineEntry } from './status.js';
import { WorkQueue } from './work-queue.js';
import { QueuePollBackoff } from './poll-backoff.js';

/** Replay schema V3: cumulative actions, compound Task.all/any actions, timer durations required. */
const UPPER_SCHEMA_VERSION = 2;
// The Azure Storage backend's limits (MaximumDelayTime, LongRunningTimerIntervalLength): the SDK
// and the extension both split a longer timer into 3-day pieces, each with its own sequence id.
const MAXIMUM_SHORT_TIMER = '6.00:00:00';
const LONG_TIMER_INTERVAL = '3.00:00:00';
const DAY_MS = 86_400_000;
const MAXIMUM_SHORT_TIMER_MS = 6 * DAY_MS;
const LONG_TIMER_INTERVAL_MS = 3 * DAY_MS;
/** DurableOrchestrationContext.SetCustomStatus: UTF-16 size of the JSON, in whole KB, at most 16. */
const MAX_CUSTOM_STATUS_KB = 16;
const MAX_TIMEOUT_MS = 2_147_483_647;
// Default import: the package is a webpack CJS bundle whose classes Node cannot see as named ESM exports.
const { InvocationContext } = azureFunctions;

export class ConflictError extends Error {
  readonly status = 409;
}
export class NotFoundError extends Error {
  readonly status = 404;
}
export class BadRequestError extends Error {
  readonly status = 400;
}

export interface EngineOptions {
  store: HistoryStore;
  registrations: Registration[];
  maxConcurrentActivities: number;
  /** Carry events nobody waited for into the next execution on continueAsNew. */
  preserveUnprocessedEvents: boolean;
  log: (line: string) => void;
  /** Durable client binding data for activities that declare a durableClient input. */
  clientData?: () => unknown;
  /**
   * Fail an orchestration that lists an already-scheduled task again inside a new Task.any/Task.all
   * (default true). Only the conformance tests turn it off, to watch the misbehaviour Azure would show.
   */
  rejectRelisting?: boolean;
  /**
   * Milliseconds every message waits before it can be processed (default 0): an activity's work
   * item, its result, a raised event, a new or finished sub-orchestration. Models the task hub's
   * queue latency (Azure Storage: queue polling), so a bench can show what each dispatch on a boot's
   * critical path costs there, and how completions that arrive together share one episode.
   */
  dispatchLatencyMs?: number;
  /**
   * This process's part when several worker processes share the store (absent: one process owns it).
   * 'client' only reads and writes the store (the front serving HTTP and the durable client API);
   * 'worker' polls the store and runs the replays and activities it claims under leases.
   */
  shared?: { role: 'client' } | SharedWorker;
}

export interface SharedWorker {
  role: 'worker';
  /** Unique per process: the owner written into the leases. */
  workerId: string;
  /** How long a claim holds without renewal (a killed worker's work waits this long). */
  leaseMs: number;
  /** The longest an idle worker waits between polls of the store. */
  pollMs: number;
}

/** Replays one worker runs at once (they are CPU work on its one thread). */
const MAX_WORKER_TURNS = 8;
/** How often a shared client checks the store for an instance it waits on. */
const CLIENT_WAIT_POLL_MS = 20;

interface Cached {
  executionId: string;
  history: HistoryEvent[];
  actions: ActionDescriptor[];
  scheduled: Set<number>;
}

/** The SDK internals the engine reads after a replay (durable-functions 3.5.0). */
interface SdkExecutor {
  actions: SdkAction[];
  openEvents?: Record<string, unknown[]>;
  willContinueAsNew: boolean;
  exception?: unknown;
}
interface SdkOrchestratorState {
  isDone: boolean;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

type Scheduled =
  | { kind: 'activity'; taskId: number; name: string; input: string }
  | { kind: 'timer'; taskId: number; fireAt: Date }
  | { kind: 'sub'; taskId: number; name: string; instanceId: string; input: string };

type Outcome =
  | { kind: 'running'; scheduled: Scheduled[] }
  | { kind: 'completed'; output: string }
  | { kind: 'failed'; message: string; errorType: string }
  | { kind: 'continueAsNew'; input: string; carry: HistoryEvent[] };

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : format(err);
}

/** Activity and continueAsNew inputs: the SDK JSON-encodes strings once more (Utils.processInput). */
function decodeProcessedInput(input: unknown): string {
  if (typeof input === 'string') {
    try {
      return toJsonText(JSON.parse(input));
    } catch {
      return toJsonText(input);
    }
  }
  return toJsonText(input);
}

/** The message DurableOrchestrationContext.SetCustomStatus throws, or undefined when the size is allowed. */
export function customStatusTooLarge(json: string | null): string | undefined {
  if (json === null) return undefined;
  const kb = Math.floor((json.length * 2) / 1024);
  if (kb <= MAX_CUSTOM_STATUS_KB) return undefined;
  return `The UTF-16 size of the JSON-serialized payload must not exceed ${MAX_CUSTOM_STATUS_KB} KB. The current payload size is ${kb.toLocaleString('en-US')} KB.`;
}

/** The error for a task listed again inside a new Task.any/Task.all (azure-functions-durable-js#574). */
export function relistingMessage(orchestration: string, relisted: Array<{ action: SdkAction; firstSeq: number | undefined; againSeq: number | undefined }>): string {
  const names = relisted.slice(0, 5).map((r) => `${formatAction(describeAction(r.action))} (task #${r.firstSeq} listed again as #${r.againSeq})`);
  const more = relisted.length > 5 ? ` and ${relisted.length - 5} more` : '';
  return (
    `Orchestrator "${orchestration}" yielded a new Task.any/Task.all over tasks it had already scheduled: ${names.join(', ')}${more}. ` +
    `On Azure the Durable extension gives every task listed in a compound action a new sequence id, so it schedules these again and ` +
    `can hand one task's result to another (azure-functions-durable-js#574). Fix: yield each task in exactly one Task.any/Task.all ` +
    `(never a new one over tasks still in flight); to react to work finishing one by one, have each unit of work raise an external ` +
    `event and wait with waitForExternalEvent, or split it into sub-orchestrations that each wait on tasks of their own.`
  );
}

export class DurableEngine {
  private readonly store: HistoryStore;
  private readonly orchestrations = new Map<string, Registration>();
  private readonly activities = new Map<string, Registration>();
  private readonly queue: WorkQueue;
  private readonly cache = new Map<string, Cached>();
  private readonly dirty = new Set<string>();
  private readonly turning = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly events = new EventEmitter();
  private drainScheduled = false;
  private stopped = false;
  // Shared worker: work items claimed and not finished, and the poll loop.
  private readonly inFlight = new Set<number>();
  private pollTimer: NodeJS.Timeout | undefined;
  private pollDue = Infinity;
  /** Several workers: how long to wait after an empty poll (the Azure Storage backend's backoff). */
  private backoff?: QueuePollBackoff;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly counts = { activities: 0, replays: 0, droppedReplays: 0, turnMs: 0 };

  constructor(private readonly opts: EngineOptions) {
    this.store = opts.store;
    for (const r of opts.registrations) {
      if (r.kind === 'orchestration') this.orchestrations.set(r.name, r);
      if (r.kind === 'activity') this.activities.set(r.name, r);
    }
    this.queue = new WorkQueue(opts.maxConcurrentActivities);
    this.events.setMaxListeners(0);
  }

  /** Resume everything the store says is unfinished: work items, timers, pending events, new instances. */
  start(): void {
    const shared = this.opts.shared;
    if (shared?.role === 'client') return;
    if (shared?.role === 'worker') {
      // Everything unfinished is found by polling: free or expired leases, visible messages.
      this.renewTimer = setInterval(() => this.renewLeases(shared), Math.max(50, Math.floor(shared.leaseMs / 3)));
      this.pollSoon();
      return;
    }
    const now = Date.now();
    for (const w of this.store.allWork()) this.dispatchActivity(w);
    for (const r of this.store.allInbox()) {
      if (r.visibleAt > now) this.arm(r.instanceId, r.visibleAt);
      else this.markDirty(r.instanceId);
    }
    for (const inst of this.store.activeInstances()) if (inst.status === 'Pending') this.markDirty(inst.instanceId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.queue.close();
    await Promise.allSettled([...this.turning.values()]);
    const shared = this.opts.shared;
    if (shared?.role === 'worker') {
      // A clean stop hands its claims back at once rather than after their leases expire.
      this.store.transaction(() => {
        for (const id of this.inFlight) this.store.renewWork(shared.workerId, id, 0);
      });
    }
    this.events.emit('stopped');
  }

  /** Activities run and replays committed by this engine, replays dropped for a lost lease, and the wall time spent in turns (replay + commit). */
  stats(): { activities: number; replays: number; droppedReplays: number; turnMs: number } {
    return { ...this.counts };
  }

  hasOrchestration(name: string): boolean {
    return this.orchestrations.has(name);
  }

  // ---------------------------------------------------------------- client operations

  /** Start (or replace a finished) instance. Refuses an id that is Pending or Running. */
  startNew(name: string, instanceId: string | undefined, inputText: string): string {
    if (!this.orchestrations.has(name)) throw new NotFoundError(`The orchestrator function '${name}' does not exist in this app (registered: ${[...this.orchestrations.keys()].join(', ') || 'none'}).`);
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const now = new Date().toISOString();
    this.store.transaction(() => {
      const existing = this.store.getInstance(id);
      if (existing && ACTIVE_STATUSES.includes(existing.status)) {
        throw new ConflictError(`An instance with ID '${id}' (${existing.name}) is already ${existing.status}; wait for it to finish or terminate it first.`);
      }
      if (existing) this.store.purge(id);
      this.store.putInstance({
        instanceId: id,
        executionId: randomUUID(),
        name,
        status: 'Pending',
        input: inputText,
        output: null,
        customStatus: null,
        createdTime: now,
        lastUpdatedTime: now,
        parentInstanceId: null,
        parentExecutionId: null,
        parentTaskId: null,
      });
    });
    this.cache.delete(id);
    this.wake(id);
    return id;
  }

  /** Queue an external event. 'gone' when the instance is no longer running. */
  raiseEvent(instanceId: string, name: string, inputText: string | null): 'ok' | 'notFound' | 'gone' {
    const row = this.store.getInstance(instanceId);
    if (!row) return 'notFound';
    if (!ACTIVE_STATUSES.includes(row.status)) return 'gone';
    this.store.addInbox(instanceId, row.executionId, this.visibleAfterDispatch(), event(EventType.EventRaised, { Name: name, Input: inputText }));
    this.wake(instanceId);
    return 'ok';
  }

  terminate(instanceId: string, reason: string): 'ok' | 'notFound' | 'gone' {
    const row = this.store.getInstance(instanceId);
    if (!row) return 'notFound';
    if (!ACTIVE_STATUSES.includes(row.status)) return 'gone';
    const now = new Date();
    const output = toJsonText(reason);
    let parent: string | null = null;
    this.store.transaction(() => {
      const history = this.store.loadHistory(instanceId, row.executionId);
      this.store.appendHistory(instanceId, row.executionId, history.length, [
        event(EventType.ExecutionTerminated, { Input: output, OrchestrationStatus: 'Terminated' }, now),
      ]);
      this.store.clearPending(instanceId);
      this.store.putInstance({ ...row, status: 'Terminated', output, lastUpdatedTime: now.toISOString() });
      parent = this.notifyParent(row, { kind: 'failed', message: `instance '${instanceId}' was terminated: ${reason}`, errorType: 'TerminatedError' }, now);
    });
    this.cache.delete(instanceId);
    if (parent) this.wake(parent);
    this.events.emit('settled', instanceId);
    return 'ok';
  }

  /** Remove a finished instance and its history. */
  purge(instanceId: string): 'ok' | 'notFound' | 'active' {
    const row = this.store.getInstance(instanceId);
    if (!row) return 'notFound';
    if (ACTIVE_STATUSES.includes(row.status)) return 'active';
    this.store.transaction(() => this.store.purge(instanceId));
    return 'ok';
  }

  getStatus(instanceId: string, opts: StatusOptions = {}): OrchestrationStatus | undefined {
    const row = this.store.getInstance(instanceId);
    if (!row) return undefined;
    const history = opts.showHistory ? this.store.loadHistory(instanceId, row.executionId) : undefined;
    return toStatus(row, history, opts);
  }

  listInstances(filter: InstanceFilter = {}, opts: StatusOptions = {}): OrchestrationStatus[] {
    return this.store.listInstances(filter).map((row) => toStatus(row, undefined, opts));
  }

  getTimeline(instanceId: string): TimelineEntry[] | undefined {
    const row = this.store.getInstance(instanceId);
    if (!row) return undefined;
    return toTimeline(this.store.loadHistory(instanceId, row.executionId));
  }

  /** Resolve with the status once the instance is Completed, Failed or Terminated. */
  waitForInstance(instanceId: string, timeoutInMs = 30_000): Promise<OrchestrationStatus> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.stopped) {
          cleanup();
          reject(new Error(`Stopped waiting for instance '${instanceId}': the local host was stopped.`));
          return true;
        }
        const s = this.getStatus(instanceId);
        if (s && !['Pending', 'Running'].includes(s.runtimeStatus)) {
          cleanup();
          resolve(s);
          return true;
        }
        return false;
      };
      const onSettled = (id: string) => {
        if (id === instanceId) check();
      };
      const onStopped = () => check();
      const timer = setTimeout(() => {
        cleanup();
        const s = this.stopped ? undefined : this.getStatus(instanceId);
        reject(new Error(`Instance '${instanceId}' did not finish within ${timeoutInMs} ms (status: ${s?.runtimeStatus ?? 'not found'}).`));
      }, timeoutInMs);
      // Replays run in other processes: the store is all a shared client can watch.
      const poll = this.opts.shared?.role === 'client' ? setInterval(() => check(), CLIENT_WAIT_POLL_MS) : undefined;
      const cleanup = () => {
        clearTimeout(timer);
        if (poll) clearInterval(poll);
        this.events.off('settled', onSettled);
        this.events.off('stopped', onStopped);
      };
      this.events.on('settled', onSettled);
      this.events.on('stopped', onStopped);
      check();
    });
  }

  // ---------------------------------------------------------------- scheduling

  /** When a message sent now becomes visible (the task hub's queue latency). */
  private visibleAfterDispatch(nowMs = Date.now()): number {
    return nowMs + (this.opts.dispatchLatencyMs ?? 0);
  }

  /** A message for this instance was just sent: replay it once the message is visible. */
  private wake(instanceId: string): void {
    if (this.opts.shared) {
      // The message is in the store; whichever worker polls first takes it (this one looks now).
      if (this.opts.shared.role === 'worker') this.pollSoon();
      return;
    }
    if ((this.opts.dispatchLatencyMs ?? 0) > 0) this.arm(instanceId, this.visibleAfterDispatch());
    else this.markDirty(instanceId);
  }

  private markDirty(instanceId: string): void {
    if (this.stopped) return;
    if (this.opts.shared) {
      if (this.opts.shared.role === 'worker') this.pollSoon();
      return;
    }
    this.dirty.add(instanceId);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      // setImmediate: let every completion of this loop iteration land before the replay.
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.drainScheduled = false;
    if (this.stopped) return;
    for (const id of [...this.dirty]) {
      if (this.turning.has(id)) continue;
      this.dirty.delete(id);
      const p = this.turn(id)
        .catch((err) => this.opts.log(`orchestration ${id}: replay error: ${err instanceof Error ? err.stack : String(err)}`))
        .finally(() => {
          this.turning.delete(id);
          if (this.dirty.has(id)) this.markDirty(id);
        });
      this.turning.set(id, p);
    }
  }

  private arm(instanceId: string, visibleAt: number): void {
    if (this.stopped) return;
    if (this.opts.shared) {
      // Sent with a visibility delay: the poller wakes (and finds it once a poll comes after it is visible).
      if (this.opts.shared.role === 'worker') this.pollSoon();
      return;
    }
    const delay = Math.min(Math.max(0, visibleAt - Date.now()), MAX_TIMEOUT_MS);
    const t = setTimeout(() => {
      this.timers.delete(t);
      // Wall clock and timer clock may differ by a millisecond: re-arm rather than fire early.
      if (Date.now() < visibleAt) this.arm(instanceId, visibleAt);
      else this.markDirty(instanceId);
    }, delay);
    this.timers.add(t);
  }

  private dispatchActivity(w: WorkRow): void {
    if (this.opts.shared) {
      // The work row carries its visibility time; it runs where it is claimed.
      if (this.opts.shared.role === 'worker') this.pollSoon();
      return;
    }
    const latency = this.opts.dispatchLatencyMs ?? 0;
    if (latency > 0) {
      // The work item waits in the queue before a worker sees it.
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.runActivity(w);
      }, latency);
      this.timers.add(t);
    } else this.runActivity(w);
  }

  private runActivity(w: WorkRow): void {
    this.queue.push(async () => {
      if (this.stopped) return;
      // Function names are case-insensitive, as in Azure Functions.
      const reg = this.activities.get(w.name) ?? [...this.activities.values()].find((r) => r.name.toLowerCase() === w.name.toLowerCase());
      let done: HistoryEvent;
      try {
        if (!reg) throw new Error(`Activity function '${w.name}' is not registered in this app.`);
        const ctx = new InvocationContext({
          invocationId: randomUUID(),
          functionName: w.name,
          logHandler: (level, ...args) => this.opts.log(`[${w.name}] ${level}: ${format(...args)}`),
          options: { trigger: reg.trigger, extraInputs: reg.extraInputs, extraOutputs: reg.extraOutputs },
        });
        // Activities may take a durable client (e.g. to start a singleton instance).
        for (const input of reg.extraInputs) {
          if ((input.type === 'durableClient' || input.type === 'orchestrationClient') && this.opts.clientData) ctx.extraInputs.set(input.name, this.opts.clientData());
        }
        const result = await reg.handler(JSON.parse(w.input), ctx);
        done = event(EventType.TaskCompleted, { TaskScheduledId: w.taskId, Result: toJsonText(result) });
      } catch (err) {
        const e = err instanceof Error ? err : new Error(errorMessage(err));
        // Reason/Details like the Azure extension: the orchestrator sees "Activity function 'x' failed: <message>".
        done = event(EventType.TaskFailed, { TaskScheduledId: w.taskId, Reason: `Activity function '${w.name}' failed: ${e.message}`, Details: '' });
        this.opts.log(`activity ${w.name} (instance ${w.instanceId}, task ${w.taskId}) failed: ${e.message}`);
      }
      if (this.stopped) return;
      this.store.transaction(() => {
        // The work row is gone when the instance finished, was terminated or replaced meanwhile,
        // or (several workers) when another worker ran it after this one's lease expired.
        if (this.store.deleteWorkRow(w.id)) this.store.addInbox(w.instanceId, w.executionId, this.visibleAfterDispatch(), done);
      });
      this.inFlight.delete(w.id);
      this.counts.activities++;
      this.wake(w.instanceId);
    });
  }

  // ---------------------------------------------------------------- several workers: claims

  /** This worker sent a message (or found some): poll at once, the backoff starts over (the backend's Reset). */
  private pollSoon(): void {
    this.backoff?.reset();
    this.schedulePoll(0);
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + Math.min(delayMs, MAX_TIMEOUT_MS);
    if (this.pollTimer && this.pollDue <= due) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollDue = due;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.pollDue = Infinity;
      this.poll();
    }, Math.max(0, due - Date.now()));
  }

  /** Claim what this worker has room for: work items up to its activity limit, replays up to its turn limit. */
  private poll(): void {
    const shared = this.opts.shared;
    if (this.stopped || shared?.role !== 'worker') return;
    const now = Date.now();
    const until = now + shared.leaseMs;
    let claimed = 0;
    try {
      const freeSlots = this.opts.maxConcurrentActivities - this.inFlight.size;
      if (freeSlots > 0) {
        for (const w of this.store.claimWork(shared.workerId, now, until, freeSlots)) {
          this.inFlight.add(w.id);
          this.runActivity(w);
          claimed++;
        }
      }
      const freeTurns = MAX_WORKER_TURNS - this.turning.size;
      if (freeTurns > 0) {
        for (const id of this.store.claimInstances(shared.workerId, now, until, freeTurns)) {
          claimed++;
          if (this.turning.has(id)) continue;
          const p = this.turn(id)
            .catch((err) => this.opts.log(`orchestration ${id}: replay error: ${err instanceof Error ? err.stack : String(err)}`))
            .finally(() => {
              this.turning.delete(id);
              // Released on a clean stop too, so a restarted host need not wait for the lease to expire.
              try {
                this.store.releaseInstance(shared.workerId, id);
              } catch (err) {
                this.opts.log(`local host worker ${shared.workerId}: releasing ${id} failed: ${errorMessage(err)}`);
              }
              this.pollSoon();
            });
          this.turning.set(id, p);
        }
      }
    } catch (err) {
      // SQLITE_BUSY past the timeout under heavy load: try again on the next poll.
      this.opts.log(`local host worker ${shared.workerId}: poll failed: ${errorMessage(err)}`);
    }
    // Back off while the store has nothing for this worker, as the Azure Storage backend backs off
    // its queue polling (up to maxQueuePollingInterval): a message another process sent, or one that
    // becomes visible later (a timer's), is found at the next poll, not the moment it is there.
    this.backoff ??= new QueuePollBackoff(shared.pollMs);
    if (claimed > 0) this.pollSoon();
    else this.schedulePoll(this.backoff.waitAfterEmptyPollMs());
  }

  /** Keep the claims of activities still running and replays in progress (lease renewal). */
  private renewLeases(shared: SharedWorker): void {
    if (this.stopped) return;
    const until = Date.now() + shared.leaseMs;
    try {
      this.store.transaction(() => {
        for (const id of this.inFlight) this.store.renewWork(shared.workerId, id, until);
        for (const id of this.turning.keys()) this.store.renewInstance(shared.workerId, id, until);
      });
    } catch (err) {
      this.opts.log(`local host worker ${shared.workerId}: lease renewal failed: ${errorMessage(err)}`);
    }
  }

  // ---------------------------------------------------------------- replay

  private loadCache(row: InstanceRow): Cached {
    const c = this.cache.get(row.instanceId);
    // Several workers: another one may have replayed this instance since; its history tells.
    if (c && c.executionId === row.executionId && (!this.opts.shared || this.store.historyLength(row.instanceId, row.executionId) === c.history.length)) return c;
    const history = this.store.loadHistory(row.instanceId, row.executionId);
    const scheduled = new Set<number>();
    for (const e of history) {
      if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.TimerCreated || e.EventType === EventType.SubOrchestrationInstanceCreated) {
        scheduled.add(e.EventId);
      }
    }
    const fresh: Cached = { executionId: row.executionId, history, actions: this.store.loadActions<ActionDescriptor>(row.instanceId, row.executionId), scheduled };
    this.cache.set(row.instanceId, fresh);
    return fresh;
  }

  private async turn(instanceId: string): Promise<void> {
    const t0 = performance.now();
    try {
      await this.runTurn(instanceId);
    } finally {
      this.counts.turnMs += performance.now() - t0;
    }
  }

  private async runTurn(instanceId: string): Promise<void> {
    if (this.stopped) return;
    const row = this.store.getInstance(instanceId);
    if (!row) return;
    const nowMs = Date.now();
    const inbox = this.store.visibleInbox(instanceId, nowMs);
    if ((this.opts.dispatchLatencyMs ?? 0) > 0) {
      // Messages still in flight (not yet visible) get their own wake-up.
      const later = this.store.inboxFor(instanceId).filter((r) => r.visibleAt > nowMs);
      if (later.length > 0) this.arm(instanceId, Math.min(...later.map((r) => r.visibleAt)));
    }
    if (!ACTIVE_STATUSES.includes(row.status)) {
      if (inbox.length > 0) this.store.transaction(() => inbox.forEach((r) => this.store.deleteInboxRow(r.id)));
      this.cache.delete(instanceId);
      return;
    }
    const fresh = inbox.filter((r) => r.executionId === row.executionId);
    const cached = this.loadCache(row);
    if (cached.history.length > 0 && fresh.length === 0) {
      if (inbox.length > 0) this.store.transaction(() => inbox.forEach((r) => this.store.deleteInboxRow(r.id)));
      return;
    }

    const now = new Date(nowMs);
    const newEvents: HistoryEvent[] = [event(EventType.OrchestratorStarted, {}, now)];
    if (cached.history.length === 0) {
      newEvents.push(event(EventType.ExecutionStarted, { Name: row.name, Input: row.input, ...(row.parentInstanceId ? { ParentInstanceId: row.parentInstanceId } : {}) }, now));
    }
    for (const r of fresh) newEvents.push({ ...r.event, IsPlayed: false });
    for (const e of cached.history) e.IsPlayed = true;

    const { outcome, descriptors, customStatus } = await this.replay(row, cached, cached.history.concat(newEvents), now);
    if (this.stopped) return;

    const scheduledEvents: HistoryEvent[] = [];
    if (outcome.kind === 'running') {
      for (const s of outcome.scheduled) {
        if (s.kind === 'activity') scheduledEvents.push(event(EventType.TaskScheduled, { EventId: s.taskId, Name: s.name, Input: s.input }, now));
        if (s.kind === 'timer') scheduledEvents.push(event(EventType.TimerCreated, { EventId: s.taskId, FireAt: s.fireAt }, now));
        if (s.kind === 'sub') scheduledEvents.push(event(EventType.SubOrchestrationInstanceCreated, { EventId: s.taskId, Name: s.name, InstanceId: s.instanceId, Input: s.input }, now));
      }
    }
    // DTFx closes every episode with OrchestratorCompleted, after the actions it scheduled.
    const closing = event(EventType.OrchestratorCompleted, {}, now);
    const newDescriptors = descriptors.slice(cached.actions.length);
    const effects = { work: [] as WorkRow[], timers: [] as { id: string; at: number }[], dirty: [] as string[], settled: false };

    const committed = this.store.transaction(() => {
      const cur = this.store.getInstance(instanceId);
      if (!cur || cur.executionId !== row.executionId || !ACTIVE_STATUSES.includes(cur.status)) return false;
      // Several workers: commit only under this worker's own lease and on the history it replayed
      // (the Azure Storage backend's lease plus ETag check), so a replay never commits twice.
      const shared = this.opts.shared;
      if (shared?.role === 'worker' && (this.store.leaseOwner(instanceId) !== shared.workerId || this.store.historyLength(instanceId, row.executionId) !== cached.history.length)) {
        this.cache.delete(instanceId);
        this.counts.droppedReplays++;
        this.opts.log(`orchestration ${instanceId}: replay on worker ${shared.workerId} dropped (its lease or history changed meanwhile)`);
        return false;
      }
      for (const r of inbox) this.store.deleteInboxRow(r.id);
      const base = { ...cur, customStatus, lastUpdatedTime: now.toISOString() };
      switch (outcome.kind) {
        case 'running': {
          this.store.appendHistory(instanceId, row.executionId, cached.history.length, [...newEvents, ...scheduledEvents, closing]);
          this.store.appendActions(instanceId, row.executionId, cached.actions.length, newDescriptors);
          this.store.putInstance({ ...base, status: 'Running' });
          for (const s of outcome.scheduled) this.commitScheduled(row, s, nowMs, effects);
          break;
        }
        case 'completed':
        case 'failed': {
          const final =
            outcome.kind === 'completed'
              ? event(EventType.ExecutionCompleted, { Result: outcome.output, OrchestrationStatus: 'Completed' }, now)
              : event(EventType.ExecutionFailed, { FailureDetails: { ErrorType: outcome.errorType, ErrorMessage: outcome.message }, OrchestrationStatus: 'Failed' }, now);
          this.store.appendHistory(instanceId, row.executionId, cached.history.length, [...newEvents, final, closing]);
          this.store.appendActions(instanceId, row.executionId, cached.actions.length, newDescriptors);
          this.store.clearPending(instanceId);
          const output = outcome.kind === 'completed' ? outcome.output : toJsonText(outcome.message);
          this.store.putInstance({ ...base, status: outcome.kind === 'completed' ? 'Completed' : 'Failed', output });
          const parent = this.notifyParent(cur, outcome, now);
          if (parent) effects.timers.push({ id: parent, at: this.visibleAfterDispatch(nowMs) });
          effects.settled = true;
          break;
        }
        case 'continueAsNew': {
          const executionId = randomUUID();
          // Events raised while this replay ran belong to the next execution; timers and work do not.
          const pending = this.store.inboxFor(instanceId).filter((r) => r.event.EventType === EventType.EventRaised);
          this.store.resetExecution(instanceId);
          for (const e of outcome.carry) this.store.addInbox(instanceId, executionId, nowMs, { ...e, IsPlayed: false });
          for (const r of pending) this.store.addInbox(instanceId, executionId, r.visibleAt, r.event);
          this.store.putInstance({ ...base, executionId, status: 'Running', input: outcome.input, output: null });
          effects.dirty.push(instanceId);
          break;
        }
      }
      return true;
    });
    if (!committed) return;
    this.counts.replays++;

    if (outcome.kind === 'running') {
      cached.history.push(...newEvents, ...scheduledEvents, closing);
      cached.actions.push(...newDescriptors);
      for (const s of outcome.scheduled) cached.scheduled.add(s.taskId);
    } else {
      this.cache.delete(instanceId);
    }
    for (const w of effects.work) this.dispatchActivity(w);
    for (const t of effects.timers) {
      if (t.at <= Date.now()) this.markDirty(t.id);
      else this.arm(t.id, t.at);
    }
    for (const id of effects.dirty) this.markDirty(id);
    if (effects.settled) this.events.emit('settled', instanceId);
  }

  /** Inside the turn's transaction: persist one scheduled task and note what to start after commit. */
  private commitScheduled(row: InstanceRow, s: Scheduled, nowMs: number, effects: { work: WorkRow[]; timers: { id: string; at: number }[]; dirty: string[] }): void {
    const id = row.instanceId;
    if (s.kind === 'activity') {
      // Shared: the row itself says when it is visible to the workers (the queue latency).
      const workId = this.store.addWork(id, row.executionId, s.taskId, s.name, s.input, this.opts.shared ? this.visibleAfterDispatch(nowMs) : undefined);
      effects.work.push({ id: workId, instanceId: id, executionId: row.executionId, taskId: s.taskId, name: s.name, input: s.input });
    } else if (s.kind === 'timer') {
      const at = s.fireAt.getTime();
      this.store.addInbox(id, row.executionId, at, event(EventType.TimerFired, { TimerId: s.taskId, FireAt: s.fireAt }, s.fireAt));
      effects.timers.push({ id, at });
    } else {
      const fail = (message: string) => {
        this.store.addInbox(id, row.executionId, nowMs, event(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: s.taskId, Reason: message, Details: '' }));
        effects.timers.push({ id, at: nowMs });
      };
      const existing = this.store.getInstance(s.instanceId);
      if (!this.orchestrations.has(s.name)) {
        fail(`Sub-orchestration '${s.name}' is not registered in this app.`);
      } else if (existing && ACTIVE_STATUSES.includes(existing.status)) {
        fail(`Sub-orchestration '${s.name}' could not start: instance '${s.instanceId}' (${existing.name}) is already ${existing.status}.`);
      } else {
        if (existing) this.store.purge(s.instanceId);
        const nowIso = new Date(nowMs).toISOString();
        this.store.putInstance({
          instanceId: s.instanceId,
          executionId: randomUUID(),
          name: s.name,
          status: 'Pending',
          input: s.input,
          output: null,
          customStatus: null,
          createdTime: nowIso,
          lastUpdatedTime: nowIso,
          parentInstanceId: id,
          parentExecutionId: row.executionId,
          parentTaskId: s.taskId,
        });
        this.cache.delete(s.instanceId);
        effects.timers.push({ id: s.instanceId, at: this.visibleAfterDispatch(nowMs) });
      }
    }
  }

  /** Inside a transaction: tell the parent orchestration how its sub-orchestration ended. */
  private notifyParent(row: InstanceRow, outcome: { kind: 'completed'; output: string } | { kind: 'failed'; message: string; errorType: string }, now: Date): string | null {
    if (!row.parentInstanceId || !row.parentExecutionId || row.parentTaskId === null) return null;
    const ev =
      outcome.kind === 'completed'
        ? event(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: row.parentTaskId, Result: outcome.output }, now)
        : event(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: row.parentTaskId, Reason: `Orchestrator function '${row.name}' failed: ${outcome.message}`, Details: '' }, now);
    this.store.addInbox(row.parentInstanceId, row.parentExecutionId, this.visibleAfterDispatch(now.getTime()), ev);
    return row.parentInstanceId;
  }

  /** Call the SDK's orchestrator handler on `history` and turn its answer into an outcome. */
  private async replay(row: InstanceRow, cached: Cached, history: HistoryEvent[], now: Date): Promise<{ outcome: Outcome; descriptors: ActionDescriptor[]; customStatus: string | null }> {
    const reg = this.orchestrations.get(row.name);
    if (!reg) {
      return { outcome: { kind: 'failed', message: `Orchestrator function '${row.name}' is not registered in this app.`, errorType: 'NotRegistered' }, descriptors: cached.actions, customStatus: row.customStatus };
    }
    const ctx = new InvocationContext({
      invocationId: randomUUID(),
      functionName: row.name,
      logHandler: (level, ...args) => {
        // Replays repeat the orchestrator's logs; print them once, like the host.
        const df = (ctx as unknown as { df?: { isReplaying?: boolean } }).df;
        if (!df?.isReplaying) this.opts.log(`[${row.name} ${row.instanceId}] ${level}: ${format(...args)}`);
      },
      options: { trigger: reg.trigger, extraInputs: reg.extraInputs, extraOutputs: reg.extraOutputs },
    });
    const trigger = {
      history,
      instanceId: row.instanceId,
      isReplaying: false,
      parentInstanceId: row.parentInstanceId ?? undefined,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      input: JSON.parse(row.input) as unknown,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER,
      longRunningTimerIntervalDuration: LONG_TIMER_INTERVAL,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
    };
    let state: SdkOrchestratorState | undefined;
    let thrown: unknown;
    try {
      state = (await reg.handler(trigger, ctx)) as SdkOrchestratorState;
    } catch (err) {
      thrown = err;
    }
    const df = (ctx as unknown as { df?: { taskOrchestratorExecutor?: SdkExecutor; customStatus?: unknown } }).df;
    const executor = df?.taskOrchestratorExecutor;
    const customStatus = df && df.customStatus !== undefined ? toJsonText(df.customStatus) : row.customStatus;
    const failed = (message: string, errorType = 'OrchestrationFailure') => ({ outcome: { kind: 'failed' as const, message, errorType }, descriptors: cached.actions, customStatus });
    if (!executor) return failed(`Orchestrator function '${row.name}' failed before it ran: ${errorMessage(thrown)}`);

    const flat = flattenActions(executor.actions);
    const descriptors = flat.map(describeAction);
    const unsupported = flat.find((a) => !SUPPORTED_TYPES.has(a.actionType));
    if (unsupported) {
      return { ...failed(`Orchestrator '${row.name}' used ${typeName(unsupported.actionType)}, which the local host does not support (entities and durable HTTP calls run only on Azure).`, 'NotSupported'), descriptors };
    }
    // The extension sets the custom status before it walks the actions; a status over 16 KB throws there.
    const tooLarge = customStatusTooLarge(customStatus);
    if (tooLarge) return { outcome: { kind: 'failed', message: tooLarge, errorType: 'System.ArgumentException' }, descriptors, customStatus: row.customStatus };

    // Walk the SDK's whole action list as the extension's shim does: sequence ids, new work, DTFx's checks.
    const walk = walkActions(executor.actions, history, {
      instanceId: row.instanceId,
      executionId: row.executionId,
      parentInstanceId: row.parentInstanceId ?? undefined,
      activities: new Set(this.activities.keys()),
      orchestrators: new Set(this.orchestrations.keys()),
      maximumShortTimerMs: MAXIMUM_SHORT_TIMER_MS,
      longRunningTimerIntervalMs: LONG_TIMER_INTERVAL_MS,
    });
    if (walk.failure) {
      this.opts.log(`orchestration ${row.name} (${row.instanceId}): ${walk.failure.message}`);
      return { ...failed(walk.failure.message, walk.failure.errorType), descriptors };
    }
    if (walk.relisted.length > 0 && this.opts.rejectRelisting !== false) {
      const message = relistingMessage(row.name, walk.relisted);
      this.opts.log(`orchestration ${row.name} (${row.instanceId}): ${message}`);
      return { ...failed(message, 'RelistedTaskError'), descriptors };
    }
    const scheduled: Scheduled[] = [];
    for (const w of walk.newWork) {
      const s = toScheduled(w);
      if (s.kind === 'sub') {
        // On the Azure Storage backend a sub-orchestration created with a running instance's id silently
        // replaces it. The app must never do that; here it fails the parent loudly.
        const existing = this.store.getInstance(s.instanceId);
        if (existing && ACTIVE_STATUSES.includes(existing.status)) {
          const message =
            `Orchestrator "${row.name}" started sub-orchestration '${s.name}' with instance id '${s.instanceId}', which belongs to a ${existing.status} ` +
            `instance of '${existing.name}'. On Azure Storage this silently replaces the running instance. Use an id no running instance has, ` +
            `or start it through the durable client (which refuses a running id).`;
          this.opts.log(`orchestration ${row.name} (${row.instanceId}): ${message}`);
          return { ...failed(message, 'InstanceIdCollision'), descriptors };
        }
      }
      scheduled.push(s);
    }
    // The shim awaits each action before it looks at isDone/error: until the walk reaches the end of
    // the list (e.g. a Task.all the SDK failed fast on still has children running), the instance runs on.
    if (!walk.finished) return { outcome: { kind: 'running', scheduled }, descriptors, customStatus };
    if (thrown !== undefined || !state) {
      const ex = executor.exception;
      const raw = ex !== undefined ? errorMessage(ex) : (state?.error ?? errorMessage(thrown).split('\n\n$OutOfProcData$:')[0]);
      // Task failures read "<Reason> \n <Details>"; Details is empty here, so trim the tail.
      const message = raw.trim();
      this.opts.log(`orchestration ${row.name} (${row.instanceId}) failed: ${message}`);
      return { outcome: { kind: 'failed', message, errorType: ex instanceof Error ? ex.name : 'Error' }, descriptors, customStatus };
    }
    if (state.isDone && executor.willContinueAsNew) {
      const action = flat.find((a) => a.actionType === ActionType.ContinueAsNew);
      const carry = this.opts.preserveUnprocessedEvents ? unprocessedEvents(executor, flat, history) : [];
      return { outcome: { kind: 'continueAsNew', input: decodeProcessedInput(action?.input), carry }, descriptors, customStatus };
    }
    if (state.isDone) return { outcome: { kind: 'completed', output: toJsonText(state.output) }, descriptors, customStatus };
    return { outcome: { kind: 'running', scheduled }, descriptors, customStatus };
  }
}

/** A piece of new work from the shim's walk, with the payload encoded as the host stores it. */
function toScheduled(w: ShimWork): Scheduled {
  if (w.kind === 'activity') return { kind: 'activity', taskId: w.seq, name: w.name as string, input: decodeProcessedInput(w.input) };
  if (w.kind === 'timer') return { kind: 'timer', taskId: w.seq, fireAt: w.fireAt as Date };
  return { kind: 'sub', taskId: w.seq, name: w.name as string, instanceId: w.instanceId as string, input: toJsonText(w.input) };
}

/**
 * Events of this execution that no waitForExternalEvent consumed. The SDK stops reading history once
 * the orchestrator is done, so count what the waits took instead: each wait action resolved takes the
 * next event of its name, in history order.
 */
function unprocessedEvents(executor: SdkExecutor, flat: SdkAction[], history: HistoryEvent[]): HistoryEvent[] {
  const waits = new Map<string, number>();
  for (const a of flat) {
    if (a.actionType === ActionType.WaitForExternalEvent && a.externalEventName) waits.set(a.externalEventName, (waits.get(a.externalEventName) ?? 0) + 1);
  }
  const out: HistoryEvent[] = [];
  const names = new Set(history.filter((e) => e.EventType === EventType.EventRaised).map((e) => e.Name as string));
  for (const name of names) {
    const open = executor.openEvents?.[name]?.length ?? 0;
    const consumed = Math.max(0, (waits.get(name) ?? 0) - open);
    const raised = history.filter((e) => e.EventType === EventType.EventRaised && e.Name === name);
    out.push(...raised.slice(consumed));
  }
  return out.sort((a, b) => a.Timestamp.getTime() - b.Timestamp.getTime());
}
