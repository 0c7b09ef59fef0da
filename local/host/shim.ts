/**
 * What the Durable extension does with the SDK's actions, episode by episode: a model of
 * `OutOfProcOrchestrationShim.ProcessAsyncActionsV2` running over DTFx's `TaskOrchestrationContext`.
 *
 * Written from Azure/azure-functions-durable-extension@a7c6d6944041b48267ed8409bb8ec8144ab9bab9
 * (src/WebJobs.Extensions.DurableTask/Listener/OutOfProcOrchestrationShim.cs,
 * ContextImplementations/DurableOrchestrationContext.cs, DurableTaskExtension.cs) and
 * Azure/durabletask@5217032961abf45846f462732a5e2813316e3747 (src/DurableTask.Core/
 * TaskOrchestrationContext.cs, RetryInterceptor.cs, Exceptions/NonDeterministicOrchestrationException.cs).
 *
 * The shim receives the SDK's *whole* action list every episode and walks it in order, awaiting each
 * top-level action before invoking the next. Every leaf it invokes (the children of Task.any/Task.all
 * included) takes DTFx's next sequence id; retried calls take one id per attempt and per retry timer,
 * allocated when DTFx processes the failure. DTFx replays the history event by event: scheduled
 * events are checked against the id's action (type, name case-insensitive), completions are routed
 * by TaskScheduledId / TimerId. Ids with no scheduled event in the history are the new work.
 * The SDK numbers tasks on its own; where the two numberings part (a task listed twice), results
 * reach the wrong task, exactly as on Azure.
 */
import { ActionType, typeName, type SdkAction, type SdkRetryOptions } from './actions.js';
import { EventType, type HistoryEvent } from './history.js';

export type LeafKind = 'activity' | 'timer' | 'sub';

/** One piece of work with its sequence id, as DTFx records it. */
export interface ShimWork {
  seq: number;
  kind: LeafKind;
  name?: string;
  input?: unknown;
  instanceId?: string;
  fireAt?: Date;
  /** The SDK action that produced it (identity: the same task listed twice is the same object). */
  action: SdkAction;
}

export interface ShimOptions {
  instanceId: string;
  executionId: string;
  parentInstanceId?: string;
  /** Registered names; the extension refuses others when the action is invoked. */
  activities: ReadonlySet<string>;
  orchestrators: ReadonlySet<string>;
  /** The backend's MaximumDelayTime and LongRunningTimerIntervalLength (Azure Storage: 6 and 3 days). */
  maximumShortTimerMs: number;
  longRunningTimerIntervalMs: number;
}

export interface ShimResult {
  /** Every leaf invoked this episode, in sequence-id order. */
  invoked: ShimWork[];
  /** Leaves without a scheduled event in the history: what the host must start now. */
  newWork: ShimWork[];
  /** The walk reached the end of the action list (the shim then looks at isDone/error). */
  finished: boolean;
  /** The orchestration fails with this (non-determinism, or an invalid call the extension refuses). */
  failure?: { errorType: string; message: string };
  /** The same SDK action invoked twice: a task re-listed inside a new compound action. */
  relisted: Array<{ action: SdkAction; firstSeq: number | undefined; againSeq: number | undefined }>;
}

class ShimError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

type Outcome = { ok: true } | { ok: false };

/** A node of the shim's task tree: a leaf, a retried call, an event wait, or a compound. */
interface Node {
  done?: Outcome;
  listeners: Array<(o: Outcome) => void>;
}

function settle(n: Node, o: Outcome): void {
  if (n.done) return;
  n.done = o;
  for (const l of n.listeners.splice(0)) l(o);
}


const DTFX_ACTION: Record<LeafKind, string> = {
  activity: 'ScheduleTaskOrchestratorAction',
  timer: 'CreateTimerOrchestratorAction',
  sub: 'CreateSubOrchestrationAction',
};

/** DTFx's retry delay (RetryInterceptor.ComputeNextDelay) for the attempt that just failed (0-based). */
export function dtfxRetryDelayMs(opts: SdkRetryOptions, retryCount: number): number {
  const coefficient = opts.backoffCoefficient ?? 1;
  const next = opts.firstRetryIntervalInMilliseconds * Math.pow(coefficient, retryCount);
  const max = opts.maxRetryIntervalInMilliseconds && opts.maxRetryIntervalInMilliseconds > 0 ? opts.maxRetryIntervalInMilliseconds : Infinity;
  return next < max ? next : max;
}

/**
 * Replay one episode as the extension does. `history` is what the orchestrator saw this episode
 * (past events plus the new ones); `actions` is the SDK's cumulative list (schema V2+: `[[...]]`
 * already unwrapped to the inner array).
 */
export function walkActions(actions: SdkAction[], history: HistoryEvent[], opts: ShimOptions): ShimResult {
  let counter = 0;
  let now = new Date(0);
  const leaves = new Map<number, { node: Node; work: ShimWork }>();
  const pendingActions = new Map<number, ShimWork>(); // DTFx orchestratorActionsMap
  const invoked: ShimWork[] = [];
  const seen = new Map<SdkAction, number | undefined>();
  const relisted: ShimResult['relisted'] = [];
  const buffered = new Map<string, number>(); // event name (lower case) -> events not yet taken
  const waiters = new Map<string, Node[]>();
  let top = 0;
  let blockedOn: Node | undefined;
  let failure: ShimResult['failure'];

  const allocate = (kind: LeafKind, action: SdkAction, extra: Partial<ShimWork>): Node => {
    const seq = counter++;
    const work: ShimWork = { seq, kind, action, ...extra };
    const node: Node = { listeners: [] };
    leaves.set(seq, { node, work });
    pendingActions.set(seq, work);
    invoked.push(work);
    return node;
  };

  const checkName = (name: string | undefined, kind: 'activity' | 'sub') => {
    const known = kind === 'activity' ? opts.activities : opts.orchestrators;
    // Function names are case-insensitive in Azure Functions (FunctionName equality).
    if (name !== undefined && [...known].some((k) => k.toLowerCase() === name.toLowerCase())) return;
    const label = kind === 'activity' ? 'activity' : 'orchestrator';
    const list = [...known];
    throw new ShimError(
      'System.ArgumentException',
      `The function '${name}' doesn't exist, is disabled, or is not an ${label} function. Additional info: ` +
        (list.length > 0 ? `The following are the known ${label} functions: '${list.join("', '")}'.` : `No ${label} functions are currently registered!`),
    );
  };

  const subInstance = (action: SdkAction, seqHint: number): string => {
    const id = action.instanceId;
    if (id !== undefined && id !== null && id.trim() !== '') {
      const same = (x: string | undefined) => x !== undefined && x.toLowerCase() === id.toLowerCase();
      if (same(opts.instanceId) || same(opts.parentInstanceId)) {
        throw new ShimError('System.ArgumentException', 'The instance ID of a sub-orchestration must be different than the instance ID of a parent orchestration.');
      }
      if (id.startsWith('@')) throw new ShimError('System.ArgumentException', 'Orchestration instance ids must not start with @');
      return id;
    }
    // TaskOrchestrationContext.CreateSubOrchestrationInstanceCore: ExecutionId + ":" + id.
    return `${opts.executionId}:${seqHint}`;
  };

  /** One call of a leaf action: activity, sub-orchestration or timer. */
  const callOnce = (action: SdkAction, kind: 'activity' | 'sub'): Node => {
    if (kind === 'activity') return allocate('activity', action, { name: action.functionName, input: action.input });
    return allocate('sub', action, { name: action.functionName, input: action.input, instanceId: subInstance(action, counter) });
  };

  /** RetryInterceptor.Invoke: attempt, retry timer, attempt, ..., a dummy timer after the last failure. */
  const withRetry = (action: SdkAction, kind: 'activity' | 'sub'): Node => {
    const opts2 = action.retryOptions as SdkRetryOptions;
    const node: Node = { listeners: [] };
    let retryCount = 0;
    const attempt = () => {
      const a = callOnce(action, kind);
      const onAttempt = (o: Outcome) => {
        if (o.ok) return settle(node, o);
        const isLast = retryCount + 1 >= opts2.maxNumberOfAttempts;
        const fireAt = isLast ? new Date(now) : new Date(now.getTime() + dtfxRetryDelayMs(opts2, retryCount));
        const timer = allocate('timer', action, { fireAt });
        const onTimer = () => {
          if (isLast) return settle(node, { ok: false });
          retryCount++;
          attempt();
        };
        if (timer.done) onTimer();
        else timer.listeners.push(onTimer);
      };
      if (a.done) onAttempt(a.done);
      else a.listeners.push(onAttempt);
    };
    attempt();
    return node;
  };

  /**
   * DurableOrchestrationContext.CreateTimer: a timer further away than the backend's maximum
   * (MaximumDelayTime) becomes a chain of interval-long timers, each one id, each created when the
   * previous fires, the last one cut to what remains.
   */
  const timer = (action: SdkAction): Node => {
    const fireAt = new Date(action.fireAt as Date);
    if (fireAt.getTime() - now.getTime() <= opts.maximumShortTimerMs) {
      const node = allocate('timer', action, { fireAt });
      // A cancelled timer's task completes at once (CancellationTokenSource.Cancel); the timer stays scheduled.
      if (action.isCanceled) settle(node, { ok: false });
      return node;
    }
    const node: Node = { listeners: [] };
    const piece = (at: Date) => {
      const t = allocate('timer', action, { fireAt: at });
      const onFired = () => {
        const remaining = fireAt.getTime() - now.getTime();
        if (remaining <= 0) return settle(node, { ok: true });
        piece(new Date(now.getTime() + Math.min(remaining, opts.longRunningTimerIntervalMs)));
      };
      if (t.done) onFired();
      else t.listeners.push(onFired);
    };
    if (action.isCanceled) settle(node, { ok: false });
    else piece(new Date(now.getTime() + opts.longRunningTimerIntervalMs));
    return node;
  };

  const invoke = (action: SdkAction): Node => {
    const isLeaf = action.actionType !== ActionType.WhenAll && action.actionType !== ActionType.WhenAny;
    // A re-listed event wait takes no id but waits for one more event in the extension: flagged too.
    if (isLeaf && action.actionType !== ActionType.ContinueAsNew) {
      if (seen.has(action)) relisted.push({ action, firstSeq: seen.get(action), againSeq: counter });
      else seen.set(action, counter);
    }
    switch (action.actionType) {
      case ActionType.CallActivity:
        checkName(action.functionName, 'activity');
        return callOnce(action, 'activity');
      case ActionType.CallActivityWithRetry:
        checkName(action.functionName, 'activity');
        return withRetry(action, 'activity');
      case ActionType.CallSubOrchestrator:
        checkName(action.functionName, 'sub');
        return callOnce(action, 'sub');
      case ActionType.CallSubOrchestratorWithRetry:
        checkName(action.functionName, 'sub');
        return withRetry(action, 'sub');
      case ActionType.CreateTimer:
        return timer(action);
      case ActionType.ContinueAsNew: {
        const node: Node = { listeners: [] };
        settle(node, { ok: true });
        return node;
      }
      case ActionType.WaitForExternalEvent: {
        const key = (action.externalEventName ?? '').toLowerCase();
        const node: Node = { listeners: [] };
        const n = buffered.get(key) ?? 0;
        if (n > 0) {
          buffered.set(key, n - 1);
          settle(node, { ok: true });
        } else {
          const queue = waiters.get(key);
          if (queue) queue.push(node);
          else waiters.set(key, [node]);
        }
        return node;
      }
      case ActionType.WhenAll:
      case ActionType.WhenAny: {
        const children = (action.compoundActions ?? []).map(invoke);
        const node: Node = { listeners: [] };
        const any = action.actionType === ActionType.WhenAny;
        const check = () => {
          if (any ? children.some((c) => c.done) : children.every((c) => c.done)) {
            // Task.WhenAny completes with the winner (never throws); Task.WhenAll faults if any child did.
            settle(node, { ok: any || children.every((c) => c.done!.ok) });
          }
        };
        if (children.length === 0) settle(node, { ok: true });
        for (const c of children) if (!c.done) c.listeners.push(check);
        check();
        return node;
      }
      default:
        throw new ShimError('System.Exception', `Received an unexpected action type from the out-of-proc function: '${typeName(action.actionType)}'.`);
    }
  };

  /** ProcessAsyncActionsV2: invoke each top-level action and await it; exceptions of user code are ignored. */
  const advance = () => {
    if (failure) return;
    while (!blockedOn || blockedOn.done) {
      blockedOn = undefined;
      if (top >= actions.length) return;
      const node = invoke(actions[top++]!);
      if (!node.done) {
        blockedOn = node;
        node.listeners.push(() => advance());
        return;
      }
    }
  };

  /** TaskOrchestrationContext.HandleTaskScheduledEvent / HandleTimerCreatedEvent / HandleSubOrchestrationCreatedEvent. */
  const checkScheduled = (e: HistoryEvent) => {
    const seq = e.EventId;
    const kind: LeafKind = e.EventType === EventType.TaskScheduled ? 'activity' : e.EventType === EventType.TimerCreated ? 'timer' : 'sub';
    const work = pendingActions.get(seq);
    const tail = 'Was a change made to the orchestrator code after this instance had already started running?';
    const sub = `a sub-orchestration task with sequence ID ${seq} and name '${e.Name}' (version '', instance ID '${e.InstanceId}')`;
    let detail: string | undefined;
    if (!work) {
      detail =
        kind === 'activity'
          ? `A previous execution of this orchestration scheduled an activity task with sequence ID ${seq} and name '${e.Name}' (version ''), but the current replay execution hasn't (yet?) scheduled this task. ${tail}`
          : kind === 'timer'
            ? `A previous execution of this orchestration scheduled a timer task with sequence number ${seq} but the current replay execution hasn't (yet?) scheduled this task. ${tail}`
            : `A previous execution of this orchestration scheduled ${sub}, but the current replay execution hasn't (yet?) scheduled this task. ${tail}`;
    } else if (work.kind !== kind) {
      const produced = DTFX_ACTION[work.kind];
      detail =
        kind === 'activity'
          ? `A previous execution of this orchestration scheduled an activity task with sequence number ${seq} named '${e.Name}', but the current orchestration replay instead produced a ${produced} action with this sequence number. ${tail}`
          : kind === 'timer'
            ? `A previous execution of this orchestration scheduled a timer task with sequence number ${seq} named but the current orchestration replay instead produced a ${produced} action with this sequence number. ${tail}`
            : `A previous execution of this orchestration scheduled ${sub}, but the current orchestration replay instead produced a ${produced} action at this sequence number. ${tail}`;
    } else if (kind !== 'timer' && (e.Name ?? '').toLowerCase() !== (work.name ?? '').toLowerCase()) {
      detail =
        kind === 'activity'
          ? `A previous execution of this orchestration scheduled an activity task with sequence number ${seq} named '${e.Name}', but the current orchestration replay instead scheduled an activity task named '${work.name}' with this sequence number.  ${tail}`
          : `A previous execution of this orchestration scheduled ${sub}, but the current orchestration replay instead scheduled a sub-orchestration task with name ${work.name} at this sequence number. ${tail}`;
    }
    if (detail) throw new ShimError('DurableTask.Core.Exceptions.NonDeterministicOrchestrationException', `Non-Deterministic workflow detected: ${detail}`);
    pendingActions.delete(seq);
  };

  const complete = (seq: number | undefined, ok: boolean) => {
    if (seq === undefined) return;
    const leaf = leaves.get(seq);
    // DTFx ignores a completion for an id that is not open (a duplicate).
    if (leaf && !leaf.node.done) settle(leaf.node, { ok });
  };

  try {
    for (const e of history) {
      switch (e.EventType) {
        case EventType.OrchestratorStarted:
          now = e.Timestamp;
          break;
        case EventType.ExecutionStarted:
          advance();
          break;
        case EventType.TaskScheduled:
        case EventType.TimerCreated:
        case EventType.SubOrchestrationInstanceCreated:
          checkScheduled(e);
          break;
        case EventType.TaskCompleted:
        case EventType.SubOrchestrationInstanceCompleted:
          complete(e.TaskScheduledId, true);
          break;
        case EventType.TaskFailed:
        case EventType.SubOrchestrationInstanceFailed:
          complete(e.TaskScheduledId, false);
          break;
        case EventType.TimerFired:
          complete(e.TimerId, true);
          break;
        case EventType.EventRaised: {
          const key = (e.Name ?? '').toLowerCase();
          const w = waiters.get(key);
          if (w && w.length > 0) settle(w.shift()!, { ok: true });
          else buffered.set(key, (buffered.get(key) ?? 0) + 1);
          break;
        }
        default:
          break;
      }
    }
  } catch (err) {
    if (!(err instanceof ShimError)) throw err;
    failure = { errorType: err.errorType, message: err.message };
  }
  const newWork = [...pendingActions.values()].sort((a, b) => a.seq - b.seq);
  return { invoked, newWork, finished: !failure && top >= actions.length && (!blockedOn || !!blockedOn.done), failure, relisted };
}

