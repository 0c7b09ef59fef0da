/**
 * Drives the app's own orchestrators through the durable-functions SDK, episode by episode, with the
 * extension's action processing (local/host/shim.ts, written from the extension's and DTFx's sources)
 * deciding what is scheduled, and scripted activity outcomes completing in a seeded random order.
 *
 * After every episode it checks what the real host depends on: every task the SDK has open carries
 * the sequence id the extension gave its action (so each result reaches the task that asked for it),
 * no task is listed twice, and no activity is scheduled twice.
 */
import { createRequire } from 'node:module';
import azureFunctions from '@azure/functions';
import { walkActions, type ShimWork } from '../../local/host/shim.js';
import { EventType, type HistoryEvent } from '../../local/host/history.js';
import { ActionType, type SdkAction } from '../../local/host/actions.js';
import { seededRandom } from '../../bench/generate-platform.js';
import { bootGroups, codeSources } from '../../functions/platform/boot-groups.js';
import { endedBeforeReport, endedShare, groupWord, mergeShares, type BootShare } from '../../functions/platform/boot-output.js';
import type { BootGroupInput } from '../../functions/orchestrations/boot-group.js';
import { bootGroupId } from '../../functions/platform/ids.js';
import type { Topology } from '../../functions/platform/topology.js';

const require = createRequire(import.meta.url);
const { createOrchestrator } = require('durable-functions/lib/src/util/testingUtils') as {
  createOrchestrator: (fn: unknown) => (trigger: unknown, ctx: unknown) => Promise<unknown>;
};
const { InvocationContext } = azureFunctions;

const DAY = 86_400_000;

/**
 * What a scripted activity does: its result, or an error message; or `later`: it is still running
 * (it waits for something), so it completes at a later turn and is asked again then.
 */
export type Script = (name: string, input: any, api: DriverApi) => { ok: true; value: unknown; unreported?: true } | { ok: false; error: string; unreported?: true } | { later: true };

/**
 * The durable-client activities as the real ones behave (startInstances starts each instance,
 * notifyInstance raises its event), for scripts to answer with; undefined for any other activity.
 */
function clientActivity(name: string, input: any, api: DriverApi): ReturnType<Script> | undefined {
  if (name === 'startInstances') return startInstancesAs(input, api);
  if (name === 'notifyInstance') {
    api.raise(input.instanceId, input.event, input.data);
    return { ok: true, value: null };
  }
  if (name === 'endedInstances') {
    const ended = input.instanceIds.flatMap((instanceId: string) => {
      const s = api.status(instanceId);
      if (s?.status === 'Failed' || s?.status === 'Terminated') return [{ instanceId, runtimeStatus: s.status }];
      // Asked with a run: one of that run that completed, with its output.
      const ofRun = input.run !== undefined && (s?.input as { notify?: { run?: string } } | undefined)?.notify?.run === input.run;
      return ofRun && s?.status === 'Completed' ? [{ instanceId, runtimeStatus: 'Completed', output: s.output }] : [];
    });
    return { ok: true, value: ended };
  }
  return undefined;
}

/** startInstances as the real activity behaves (functions/activities/instances.ts): each instance started, or refused with its reason. */
function startInstancesAs(input: any, api: DriverApi): ReturnType<Script> {
  const results = input.instances.map((i: { name: string; instanceId: string; input: unknown }) => {
    try {
      api.start(i.name, i.instanceId, i.input);
      return { instanceId: i.instanceId, started: true };
    } catch (e) {
      return { instanceId: i.instanceId, started: false, reason: (e as Error).message };
    }
  });
  return { ok: true, value: results };
}

/**
 * runBootStep as the real activity behaves (functions/activities/boot-step.ts): the script's
 * startKafka or startService, then the step's report raised to its group, and the same outcome as
 * the activity's result. `unreported`: the activity itself fails before it reports (killed at its
 * timeout, say).
 */
function bootStepAs(input: any, api: DriverApi, script: Script): { outcome: ReturnType<Script>; report?: () => void } {
  const started = input.kafka ? script('startKafka', input.kafka, api) : script('startService', input.service, api);
  if ('later' in started) return { outcome: started };
  if (!started.ok && started.unreported) return { outcome: started };
  const output = started.ok ? { step: input.step, ok: true, started: started.value } : { step: input.step, ok: false, reason: started.error };
  // `unreported` on a start that answered: the report could not be raised, the activity answers anyway.
  if (started.ok && started.unreported) return { outcome: { ok: true, value: output } };
  return {
    outcome: { ok: true, value: output },
    report: () => api.raise(input.notify.instanceId, 'bootProgress', { run: input.notify.run, kind: 'step', name: input.step, output }),
  };
}

/**
 * The boot's plumbing as the real activities behave over a fixed topology: the durable-client ones
 * (clientActivity), prepareBoot (functions/activities/boot.ts: splits the topology into groups and
 * starts each with its share, folder versions `v-<folder>`) and summarizeBoot (waits for every
 * group's output and merges them). Undefined for any other activity.
 */
export function bootActivity(name: string, input: any, api: DriverApi, topology: Topology): ReturnType<Script> | undefined {
  const client = clientActivity(name, input, api);
  if (client) return client;
  if (name === 'prepareBoot') {
    const sources = codeSources(topology);
    const split = bootGroups(topology, new Map(sources.map((s) => [s, `v-${s}`])), { groupVms: input.groupVms });
    for (const slice of split.groups) api.start('bootGroup', bootGroupId(slice.index), { slice, notify: input.notify, operationId: input.operationId });
    const { groups, ...rest } = split;
    return { ok: true, value: { state: 'started', groups: groups.length, ...rest } };
  }
  if (name === 'groupsSettled') {
    const ended = input.groups.flatMap((g: { instanceId: string; steps: string[] }) => {
      const s = api.status(g.instanceId);
      const word = groupWord(s && { runtimeStatus: s.status, input: s.input, output: s.output }, input.run, g.steps);
      return word ? [{ instanceId: g.instanceId, ...word }] : [];
    });
    return { ok: true, value: ended };
  }
  if (name === 'summarizeBoot') {
    const shares: BootShare[] = [];
    for (const id of input.groups) {
      const s = api.status(id);
      if (s?.status === 'Failed' || s?.status === 'Terminated') shares.push(endedShare((s.input as BootGroupInput).slice, endedBeforeReport(id, s.status)));
      else if (s?.status !== 'Completed') return { later: true };
      else shares.push(s.output as BootShare);
    }
    return { ok: true, value: mergeShares(shares, input.monitoring) };
  }
  return undefined;
}

export interface DriverApi {
  /** Start an orchestration instance (what the durable client's startNew does). */
  start(name: string, instanceId: string, input: unknown): void;
  /** Raise an event to an instance (the client's raiseEvent). */
  raise(instanceId: string, event: string, data: unknown): void;
  /** An instance's status and output (what the client's getStatus answers). */
  status(instanceId: string): { status: string; input: unknown; output?: unknown } | undefined;
  /** The driver's clock (ms): a second per episode, and a timer's fire time when it fires. */
  now(): number;
  /** Terminate a running instance (the client's terminate): it runs no more episodes, reports nothing. */
  terminate(instanceId: string): void;
  /** An instance of another run that holds this id and runs on, doing nothing here (a start of the id is refused). */
  hold(instanceId: string): void;
}

interface SdkTaskLike {
  id: number | string | false;
  isCompleted?: boolean;
  isFaulted?: boolean;
  actionObj?: SdkAction;
  parent?: { actionObj?: SdkAction };
}

interface Instance {
  id: string;
  name: string;
  executionId: string;
  input: unknown;
  parent?: { id: string; seq: number };
  history: HistoryEvent[];
  inbox: HistoryEvent[];
  started: boolean;
  status: 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';
  output?: unknown;
  /** The input it continued as new with (status ContinuedAsNew), as the next execution receives it. */
  continuedWith?: unknown;
  customStatus?: unknown;
  episodes: number;
}

interface InFlight {
  instanceId: string;
  work: ShimWork;
}

export interface RunResult {
  instances: Map<string, Instance>;
  /** Problems found: a misrouted id, a re-listed task, a duplicate schedule, a stuck run. */
  problems: string[];
  /** TaskScheduled counts per `instance|name|input`. */
  scheduled: Map<string, number>;
}


/** Activity inputs as the activity receives them: the SDK JSON-encodes string inputs once more. */
function activityInput(input: unknown): unknown {
  if (typeof input === 'string') {
    try {
      return JSON.parse(input);
    } catch {
      return input;
    }
  }
  return input === undefined ? undefined : JSON.parse(JSON.stringify(input));
}

const ev = (type: number, fields: Partial<HistoryEvent>, at: Date): HistoryEvent => ({ EventType: type, EventId: -1, IsPlayed: false, Timestamp: at, ...fields });
const json = (v: unknown) => JSON.stringify(v === undefined ? null : v);

export async function run(opts: {
  orchestrators: Record<string, unknown>;
  activities: string[];
  script: Script;
  root: { name: string; id: string; input: unknown };
  seed: number;
  /** Most completions delivered together (1 = one per replay). */
  maxBatch?: number;
  maxSteps?: number;
  /** Holds an activity's answer (its work done, a step's report raised) while this says so; asked at every turn. */
  holdAnswer?: (name: string, input: any) => boolean;
}): Promise<RunResult> {
  const handlers = new Map(Object.entries(opts.orchestrators).map(([k, fn]) => [k, createOrchestrator(fn)]));
  const rnd = seededRandom(opts.seed);
  const instances = new Map<string, Instance>();
  const problems: string[] = [];
  const scheduled = new Map<string, number>();
  const pool: InFlight[] = [];
  /** Outcomes of activities whose answer is held (holdAnswer). */
  const answers = new Map<InFlight, Exclude<ReturnType<Script>, { later: true }>>();
  let clock = Date.parse('2026-01-01T00:00:00Z');

  const api: DriverApi = {
    start(name, instanceId, input) {
      const existing = instances.get(instanceId);
      if (existing && existing.status === 'Running') throw new Error(`instance '${instanceId}' is already running`);
      instances.set(instanceId, newInstance(name, instanceId, input));
    },
    raise(instanceId, event, data) {
      const target = instances.get(instanceId);
      if (!target) throw new Error(`No instance with ID '${instanceId}' found.`);
      // As the extension answers 410 for an instance that ended, and the SDK's raiseEvent resolves on it.
      if (target.status !== 'Running') return;
      target.inbox.push(ev(EventType.EventRaised, { Name: event, Input: json(data) }, new Date(clock)));
    },
    status(instanceId) {
      const i = instances.get(instanceId);
      return i && { status: i.status, input: i.input, output: i.output };
    },
    now: () => clock,
    hold(instanceId) {
      instances.set(instanceId, { ...newInstance('held', instanceId, undefined), started: true });
    },
    terminate(instanceId) {
      const i = instances.get(instanceId);
      if (!i || i.status !== 'Running') return;
      i.status = 'Terminated';
      // As DTFx's orchestration dispatcher does: a terminated sub-orchestration's parent gets SubOrchestrationInstanceFailed.
      const parent = i.parent && instances.get(i.parent.id);
      if (parent) parent.inbox.push(ev(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: i.parent!.seq, Reason: `instance '${instanceId}' was terminated`, Details: '' }, new Date(clock)));
    },
  };
  const newInstance = (name: string, id: string, input: unknown, parent?: Instance['parent']): Instance => ({
    id,
    name,
    executionId: `exec-${id}-${instances.size}`,
    input,
    parent,
    history: [],
    inbox: [],
    started: false,
    status: 'Running',
    episodes: 0,
  });

  const episode = async (inst: Instance): Promise<void> => {
    const now = new Date((clock += 1000));
    const fresh: HistoryEvent[] = [ev(EventType.OrchestratorStarted, {}, now)];
    if (!inst.started) fresh.push(ev(EventType.ExecutionStarted, { Name: inst.name, Input: json(inst.input) }, now));
    fresh.push(...inst.inbox.splice(0));
    inst.started = true;
    inst.episodes++;
    for (const e of inst.history) e.IsPlayed = true;
    const history = [...inst.history, ...fresh];
    const ctx = new InvocationContext({ invocationId: `${inst.id}-${inst.episodes}`, functionName: inst.name, logHandler: () => {} });
    const handler = handlers.get(inst.name);
    if (!handler) throw new Error(`no orchestrator '${inst.name}'`);
    let state: any;
    let thrown: unknown;
    try {
      state = await handler(
        {
          history,
          instanceId: inst.id,
          isReplaying: false,
          parentInstanceId: inst.parent?.id,
          upperSchemaVersion: 2,
          input: inst.input,
          maximumShortTimerDuration: '6.00:00:00',
          longRunningTimerIntervalDuration: '3.00:00:00',
          defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
        },
        ctx,
      );
    } catch (e) {
      thrown = e;
    }
    const df = (ctx as any).df;
    const executor = df.taskOrchestratorExecutor as {
      actions: SdkAction[];
      openTasks: Record<string, SdkTaskLike>;
      openEvents: Record<string, SdkTaskLike[]>;
      exception?: unknown;
      willContinueAsNew: boolean;
    };
    const walk = walkActions(executor.actions, history, {
      instanceId: inst.id,
      executionId: inst.executionId,
      parentInstanceId: inst.parent?.id,
      activities: new Set(opts.activities),
      orchestrators: new Set(handlers.keys()),
      maximumShortTimerMs: 6 * DAY,
      longRunningTimerIntervalMs: 3 * DAY,
    });
    if (walk.failure) problems.push(`${inst.id}: ${walk.failure.message}`);
    for (const r of walk.relisted) problems.push(`${inst.id}: ${r.action.functionName ?? 'timer'} task #${r.firstSeq} listed again as #${r.againSeq}`);
    // The SDK hands an event to the newest wait it tracks for that name, the extension to its
    // oldest (DurableOrchestrationContext's queue). They agree only while each wait the SDK
    // tracks is one the orchestration still reads, tracked once: a wait yielded again is tracked
    // again, and its extra entry takes a later event after the wait completed (the report is lost).
    if (!state?.isDone) {
      for (const [name, waits] of Object.entries(executor.openEvents ?? {})) {
        if (waits.some((t) => t.isCompleted || t.isFaulted)) problems.push(`${inst.id}: the SDK holds a '${name}' wait that already completed: the next '${name}' event goes to it and is lost`);
        if (new Set(waits).size < waits.length) problems.push(`${inst.id}: the SDK tracks a '${name}' wait twice`);
      }
    }
    // Every task the SDK has open must carry the id the extension gave its action.
    const bySeq = new Map(walk.invoked.map((w) => [w.seq, w]));
    for (const [id, task] of Object.entries(executor.openTasks)) {
      const seq = Number(id);
      if (!Number.isInteger(seq)) continue;
      const leaf = bySeq.get(seq);
      if (!leaf) continue; // not reached by the walk yet (behind a blocking action): nothing is scheduled for it
      if (leaf.action !== task.actionObj && leaf.action !== task.parent?.actionObj) {
        problems.push(`${inst.id}: the SDK waits on id ${seq} for ${task.actionObj?.functionName ?? 'a timer'}, the extension gave id ${seq} to ${leaf.name ?? 'a timer'}`);
      }
    }
    const recorded: HistoryEvent[] = [];
    for (const w of walk.newWork) {
      if (w.kind === 'activity') {
        recorded.push(ev(EventType.TaskScheduled, { EventId: w.seq, Name: w.name, Input: json(w.input) }, now));
        const key = `${inst.id}|${w.name}|${json(w.input)}`;
        scheduled.set(key, (scheduled.get(key) ?? 0) + 1);
      } else if (w.kind === 'timer') recorded.push(ev(EventType.TimerCreated, { EventId: w.seq, FireAt: w.fireAt }, now));
      else {
        recorded.push(ev(EventType.SubOrchestrationInstanceCreated, { EventId: w.seq, Name: w.name, InstanceId: w.instanceId, Input: json(w.input) }, now));
        const key = `${inst.id}|${w.name}|${w.instanceId}`;
        scheduled.set(key, (scheduled.get(key) ?? 0) + 1);
      }
      pool.push({ instanceId: inst.id, work: w });
    }
    inst.history = [...history, ...recorded, ev(EventType.OrchestratorCompleted, {}, now)];
    inst.customStatus = df.customStatus;
    if (!walk.finished || walk.failure) return;
    const finish = (status: Instance['status'], output: unknown) => {
      inst.status = status;
      inst.output = output;
      const parent = inst.parent && instances.get(inst.parent.id);
      if (parent && status !== 'ContinuedAsNew') {
        parent.inbox.push(
          status === 'Completed'
            ? ev(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: inst.parent!.seq, Result: json(output) }, now)
            : ev(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: inst.parent!.seq, Reason: `Orchestrator function '${inst.name}' failed: ${String(output)}`, Details: '' }, now),
        );
      }
    };
    if (thrown !== undefined || state?.error) finish('Failed', executor.exception instanceof Error ? executor.exception.message : String(state?.error ?? thrown));
    else if (state?.isDone && executor.willContinueAsNew) {
      finish('ContinuedAsNew', undefined);
      inst.continuedWith = activityInput(executor.actions.find((a) => a.actionType === ActionType.ContinueAsNew)?.input);
    } else if (state?.isDone) finish('Completed', state.output);
  };

  const complete = (f: InFlight): void => {
    const inst = instances.get(f.instanceId)!;
    const at = new Date(clock);
    const w = f.work;
    if (w.kind === 'timer') {
      // A timer fires no earlier than its time: the episode that sees it runs at or after FireAt.
      clock = Math.max(clock, w.fireAt!.getTime());
      inst.inbox.push(ev(EventType.TimerFired, { TimerId: w.seq, FireAt: w.fireAt }, at));
      return;
    }
    if (w.kind === 'sub') {
      try {
        api.start(w.name!, w.instanceId!, w.input);
      } catch (e) {
        // The extension fails the sub-orchestration's task when its id runs already.
        inst.inbox.push(ev(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: w.seq, Reason: (e as Error).message, Details: '' }, at));
        return;
      }
      instances.get(w.instanceId!)!.parent = { id: inst.id, seq: w.seq };
      return;
    }
    const answered = answers.get(f);
    let outcome: ReturnType<Script>;
    let report: (() => void) | undefined;
    if (answered) {
      // Its work is done (a step's report raised): only its answer was held.
      outcome = answered;
    } else {
      try {
        if (w.name === 'runBootStep') ({ outcome, report } = bootStepAs(activityInput(w.input), api, opts.script));
        else outcome = opts.script(w.name!, activityInput(w.input), api);
      } catch (e) {
        outcome = { ok: false, error: (e as Error).message };
      }
    }
    if ('later' in outcome) {
      pool.push(f);
      return;
    }
    // Queues need not keep order: a step's report may come before or after its activity's answer.
    const reportFirst = rnd() < 0.5;
    if (report && reportFirst) report();
    if (opts.holdAnswer?.(w.name!, activityInput(w.input))) {
      if (report && !reportFirst) report();
      answers.set(f, outcome);
      pool.push(f);
      return;
    }
    answers.delete(f);
    inst.inbox.push(
      outcome.ok
        ? ev(EventType.TaskCompleted, { TaskScheduledId: w.seq, Result: json(outcome.value) }, at)
        : ev(EventType.TaskFailed, { TaskScheduledId: w.seq, Reason: `Activity function '${w.name}' failed: ${outcome.error}`, Details: '' }, at),
    );
    if (report && !reportFirst) report();
  };

  /**
   * Which work completes next, at random; a timer not yet due is picked rarely (1 in 20 of what
   * an other item weighs): picking one moves the clock to its time, and a host does not let a
   * one-second activity take the minutes of a group's alarm clock over and over (a build's polls
   * starved past its 27-minute deadline). Slow activities still happen, only less often.
   */
  const pick = (): number => {
    const weights = pool.map((f) => (f.work.kind === 'timer' && f.work.fireAt!.getTime() > clock + 1_000 ? 0.05 : 1));
    let r = rnd() * weights.reduce((a, w) => a + w, 0);
    for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) < 0) return i;
    return weights.length - 1;
  };

  api.start(opts.root.name, opts.root.id, opts.root.input);
  for (let step = 0; step < (opts.maxSteps ?? 20_000); step++) {
    const due = [...instances.values()].filter((i) => i.status === 'Running' && (!i.started || i.inbox.length > 0));
    if (due.length > 0) {
      for (const i of due) await episode(i);
      continue;
    }
    if (pool.length === 0) return { instances, problems, scheduled };
    const n = 1 + Math.floor(rnd() * Math.min(opts.maxBatch ?? 3, pool.length));
    for (let k = 0; k < n; k++) complete(pool.splice(pick(), 1)[0]!);
  }
  problems.push('the run did not settle');
  return { instances, problems, scheduled };
}

/**
 * One episode, nothing else: the SDK replays `history`, the extension's processing walks its actions.
 * Returns what the extension schedules now and whether the orchestration completed.
 */
export async function replayOnce(
  orchestrator: unknown,
  history: HistoryEvent[],
  opts: { instanceId?: string; executionId?: string; input?: unknown; activities: string[]; orchestrators?: string[] },
): Promise<{ newWork: ShimWork[]; finished: boolean; isDone: boolean; output: unknown; relisted: number; failure?: string }> {
  const handler = createOrchestrator(orchestrator);
  const ctx = new InvocationContext({ invocationId: 'replay', functionName: 'conformance', logHandler: () => {} });
  let state: any;
  try {
    state = await handler(
      {
        history,
        instanceId: opts.instanceId ?? 'i',
        isReplaying: false,
        upperSchemaVersion: 2,
        input: opts.input,
        maximumShortTimerDuration: '6.00:00:00',
        longRunningTimerIntervalDuration: '3.00:00:00',
        defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
      },
      ctx,
    );
  } catch {
    state = undefined;
  }
  const executor = (ctx as any).df.taskOrchestratorExecutor as { actions: SdkAction[] };
  const walk = walkActions(executor.actions, history, {
    instanceId: opts.instanceId ?? 'i',
    executionId: opts.executionId ?? 'e',
    activities: new Set(opts.activities),
    orchestrators: new Set(opts.orchestrators ?? []),
    maximumShortTimerMs: 6 * DAY,
    longRunningTimerIntervalMs: 3 * DAY,
  });
  return { newWork: walk.newWork, finished: walk.finished, isDone: !!state?.isDone, output: state?.output, relisted: walk.relisted.length, failure: walk.failure?.message };
}
