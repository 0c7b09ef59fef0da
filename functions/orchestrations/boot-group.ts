/**
 * One group of a boot (instance `boot-group-<i>`, started by the boot's prepare activity with its
 * share of the platform as input; platform/boot-groups.ts): bring its VMs up (one `bootVm` each),
 * start each of its steps as soon as its VM is ready, its own image is built and everything it
 * depends on runs, here or in another group, and report to the root once, when all of it settled.
 *
 * Why groups: an orchestration replays its whole history at every completion, so the boot's cost
 * per completion follows the size of the largest history. A group holds about a 10-VM boot's
 * history whatever the platform's size, and the root one report per group.
 *
 * Why events: as the root did before (see boot-platform.ts), a group reacts to whichever unit
 * finishes next; each unit (a `bootVm` sub-orchestration per VM, a `runBootStep` activity per
 * step) raises a `bootProgress` event when done (a VM once ready, then per batch of images), and a
 * group tells the groups that depend on its steps the same way (kind `dep`). Events
 * take no sequence id: every activity is scheduled once, and reports that arrive together are
 * handled in one replay. A group does not wait for its own starts and tells before it takes the
 * next report (each one is a queue round trip on Azure): reports that come while they are out are
 * taken at once. It wakes on reports only; an alarm clock (alarm-clock.ts) reports now and then,
 * so that a step's activity or another group that ended without reporting is found.
 *
 * The monitoring service is not started here: once its dependencies settled and its image is built,
 * the group hands it to the root, which starts it after every group has settled.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  O,
  type EventInput,
  type NotifyInput,
  type PreparedImage,
  type ServiceRuntimeSpec,
  type StartKafkaInput,
  type StartServiceInput,
  type StartedService,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import type { BootGroupSlice } from '../platform/boot-groups.js';
import { describeShare, type BootShare } from '../platform/boot-output.js';
import { BootState } from '../platform/boot-state.js';
import { bootGroupId, bootVmId } from '../platform/ids.js';
import { KAFKA } from '../platform/topology.js';
import type { BootStepInput, BootStepOutput } from './boot-step.js';
import type { BootVmInput } from './boot-vm.js';
import type { ImageOutcome } from './build-images.js';
import { BOOT_PROGRESS, failureMessage, isoAt, reportTo, settleAll, unwaited, type BootNotify, type BootReport } from './tasks.js';
import { alarmClock } from './alarm-clock.js';
import { activityTask, call, valueOf, type TypedTask } from './calls.js';

export interface BootGroupInput {
  slice: BootGroupSlice;
  /** The root and the run this group belongs to. */
  notify: BootNotify;
  operationId: string;
}

/** What the monitoring service needs from its group: start it, that it already runs, or why it cannot start. */
export type MonitoringHandoff =
  | { name: string; state: 'ready'; start: StartServiceInput }
  | { name: string; state: 'running'; service: ServiceRuntimeSpec; vm: VmAccess; started: StartedService }
  | { name: string; state: 'failed' | 'blocked'; reason: string; blockedBy?: string };

/** A group's one report to the root (its full share is its output, read by summarizeBoot). */
export interface GroupSummary {
  running: number;
  failed: number;
  monitoring?: MonitoringHandoff;
}

/**
 * A group's output: its share, and the report it sent the root (read from here by the root's alarm
 * clock when the report never came; `unreported` says why).
 */
export type BootGroupOutput = BootShare & { summary: GroupSummary; unreported?: string };

/** Word to another group of what settled here, and which attempt it is. */
interface Tell {
  group: number;
  outcomes: Array<{ step: string; ok: boolean }>;
  attempt: number;
}
/** Attempts at a tell before the group stops (as transientRetry's). */
const TELL_ATTEMPTS = 3;

export const bootGroup: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootGroupInput>();
  const { slice, notify, operationId } = input;
  const state = new BootState(slice.plan);
  const self: BootNotify = { instanceId: context.df.instanceId, run: notify.run };
  const stepOf = new Map(slice.steps.map((s) => [s.step, s]));
  const monitoring = slice.steps.find((s) => s.monitoring)?.step;
  let handoff: MonitoringHandoff | undefined;
  const showProgress = (): void => {
    if (!context.df.isReplaying) context.df.setCustomStatus(state.progress('starting'));
  };

  /** At each tick of its alarm clock the group looks at its steps' answers and at the groups whose word it waits for. */
  const clock = alarmClock(context, self);
  /** A tick not yet acted on. */
  let rang: string | undefined;
  /** Units started and not yet reported, as `vm:<name>` / `step:<name>` / `images:<vm>`. */
  const pending = new Set<string>();
  const access = new Map<string, VmAccess>();
  const vmInfo = new Map<string, VmInfo>();
  const images = new Map<string, PreparedImage>();
  const running = new Map<string, StartedService>();
  const imagesDone = new Set<string>();
  const applyImages = (outcomes: ImageOutcome[]): void => {
    for (const img of outcomes) {
      if (img.ok) images.set(img.step, img.image);
      else state.stepFailed(img.step, 'build', img.reason);
    }
  };

  /** VMs ready whose look at their services is still out, and looks that came before their VM's report. */
  const looking = new Set<string>();
  const earlyAdopted = new Map<string, StartedService[]>();
  const applyAdopted = (vm: string, adopted: StartedService[]): void => {
    for (const started of adopted) {
      if (!state.adopt(started.service)) continue;
      running.set(started.service, started);
      if (started.service === monitoring) {
        handoff = { name: monitoring, state: 'running', service: stepOf.get(monitoring)!.service!, vm: access.get(vm)!, started };
      }
    }
  };

  /** A VM's orchestration's input: its steps with their versions, what may be adopted there, where it reports. */
  const vmInputOf = ({ spec, inboundPorts }: BootGroupSlice['vms'][number]): BootVmInput => {
    const vmInput: BootVmInput = {
      azure: slice.azure,
      vm: spec,
      steps: state.stepsOn(spec.name).map((step) => {
        const s = stepOf.get(step)!;
        return { step, source: s.source, ...(s.version ? { version: s.version } : {}) };
      }),
      ...(inboundPorts ? { inboundPorts } : {}),
      notify: self,
    };
    // Services whose code version is known may already run as wanted (Kafka starts its topics anyway).
    const adopt = state.stepsOn(spec.name).flatMap((step) => {
      const s = stepOf.get(step)!;
      return s.service && s.version ? [{ service: s.service, version: s.version }] : [];
    });
    if (adopt.length > 0) vmInput.adopt = adopt;
    return vmInput;
  };
  /**
   * One event to a group to tell what settled here. No SDK retry: a retried task inside the arm
   * that ships beside the report wait replays in another order than it ran (the extension then
   * fails the group as non-deterministic); a refused tell is sent again in a later round instead.
   */
  const tellTask = (t: Tell): RoundTask => {
    const report: BootReport = { run: notify.run, kind: 'dep', name: context.df.instanceId, outcomes: t.outcomes };
    return { task: activityTask(context, A.notifyInstance, { instanceId: bootGroupId(t.group), event: BOOT_PROGRESS, data: report } satisfies NotifyInput), tell: t };
  };
  const tell = (tells: Map<number, Array<{ step: string; ok: boolean }>>): RoundTask[] => [...tells].map(([group, outcomes]) => tellTask({ group, outcomes, attempt: 1 }));
  /** Tells refused, to send again in the next round. */
  const retells: Tell[] = [];
  /** One report taken in: the state moves on; whatever became ready is started at the next turn. */
  const receive = (report: BootReport): void => {
    // A report of an earlier boot's unit (still finishing when this boot began) is not ours.
    if (report.run !== notify.run) return;
    if (clock.rings(report)) rang = report.name;
    switch (report.kind) {
      case 'dep':
        for (const o of report.outcomes) state.externalSettled(o.step, o.ok);
        return;
      case 'images':
        // Queues need not keep order: a batch may come before the VM's ready report.
        if (imagesDone.has(report.name)) return;
        applyImages(report.images);
        if (report.last) {
          imagesDone.add(report.name);
          pending.delete(`images:${report.name}`);
        }
        return;
      case 'group':
        return;
      case 'tick':
        // The alarm clock rang (or an old one: ignored): the loop looks now, and winds it again if need be.
        return;
      case 'adopted':
        // Queues need not keep order: it may come before the VM's ready report; kept until then.
        if (looking.delete(report.name)) applyAdopted(report.name, report.adopted);
        else if (!access.has(report.name)) earlyAdopted.set(report.name, report.adopted);
        return;
      case 'vm': {
        if (!pending.delete(`vm:${report.name}`)) return;
        const result = report.output;
        if (!result.ok) {
          state.vmFailed(report.name, result.step, result.reason);
          return;
        }
        access.set(report.name, result.access);
        vmInfo.set(report.name, result.info);
        state.vmReady(report.name);
        applyImages(result.images);
        applyAdopted(report.name, result.adopted ?? []);
        if (result.looking) {
          const early = earlyAdopted.get(report.name);
          if (early) applyAdopted(report.name, early);
          else looking.add(report.name);
        }
        if ((result.building?.length ?? 0) > 0 && !imagesDone.has(report.name)) pending.add(`images:${report.name}`);
        return;
      }
      case 'step':
        stepDone(report.output);
        return;
    }
  };
  /**
   * A VM's orchestration ended without reporting (an operator terminated it, it failed under a
   * deploy that changed its code, or its start was refused): what it would have reported never comes.
   */
  const vmEnded = (vm: string, reason: string): void => {
    if (pending.delete(`vm:${vm}`)) {
      state.vmFailed(vm, 'boot', reason);
      return;
    }
    // Ready, but its look or some of its builds had not reported: start what was not adopted, fail
    // what has no image.
    looking.delete(vm);
    if (pending.delete(`images:${vm}`)) {
      for (const step of state.stepsOn(vm)) {
        const s = state.state(step);
        if (!images.has(step) && (s === 'pending' || s === 'building')) state.stepFailed(step, 'build', reason);
      }
    }
  };
  /** A step's outcome, from its report or its activity's result, whichever comes first. */
  const stepDone = (result: BootStepOutput): boolean => {
    if (!pending.delete(`step:${result.step}`)) return false;
    if (!result.ok) state.stepFailed(result.step, 'start', result.reason);
    else {
      state.running(result.step);
      running.set(result.step, result.started);
    }
    return true;
  };

  /** A step's start or word to another group, scheduled in a round (`seen`: its failure taken in). */
  type RoundTask = { task: TypedTask<unknown>; step?: string; tell?: Tell; seen?: boolean };
  /** What is ready now: its starts (monitoring handed off instead) and the word to other groups of what settled. */
  const nextRound = (): RoundTask[] => {
    const round: RoundTask[] = [];
    // A service waits for its VM's look (it may be adopted there); Kafka, never adopted, does not.
    for (const step of state.ready((s) => images.has(s) && (s === KAFKA || !looking.has(stepOf.get(s)!.vm)))) {
      const vm = stepOf.get(step)!.vm;
      const image = images.get(step)!;
      const spec = stepOf.get(step)!;
      if (step === monitoring) {
        // Ready to start: the root starts it once every group has settled.
        state.handOff(step);
        handoff = {
          name: step,
          state: 'ready',
          start: { vm: access.get(vm)!, service: spec.service!, image: image.image, version: image.version, operationId, monitoring: true },
        };
        continue;
      }
      state.starting(step);
      const stepInput: BootStepInput = { step, notify: self };
      if (step === KAFKA) {
        stepInput.kafka = { vm: access.get(vm)!, kafka: spec.kafka!, image: image.image, version: image.version, operationId } satisfies StartKafkaInput;
      } else {
        stepInput.service = { vm: access.get(vm)!, service: spec.service!, image: image.image, version: image.version, operationId, monitoring: false } satisfies StartServiceInput;
      }
      // One activity: the start, then its report raised here (functions/activities/boot-step.ts).
      round.push({ task: activityTask(context, A.runBootStep, stepInput), step });
      pending.add(`step:${step}`);
    }
    // Tell the groups whose steps depend on what settled here, in the same round as the starts.
    round.push(...tell(tellsFor(slice, state.drainSettled(), (s) => state.state(s) === 'running')), ...retells.splice(0).map(tellTask));
    return round;
  };

  /**
   * Rounds of starts and tells not yet seen done. Their answers never wake the group (see the
   * loop): they are looked at whenever a report does, and waited for alone once no report is
   * expected here.
   */
  const rounds: Array<{ all: Task; tasks: RoundTask[] }> = [];
  /**
   * Takes in what the rounds' tasks answered: a step's outcome (if its report did not come first;
   * none comes from a step's activity that failed). A failed tell stops the group.
   */
  const checkRounds = (): void => {
    for (let i = rounds.length - 1; i >= 0; i--) {
      const round = rounds[i]!;
      for (const t of round.tasks) {
        if (t.task.isCompleted && t.step) stepDone(valueOf(t.task as TypedTask<BootStepOutput>));
        else if (t.task.isFaulted && t.step) stepDone({ step: t.step, ok: false, reason: failureMessage(t.task.result) });
        else if (t.task.isFaulted && t.tell && !t.seen) {
          t.seen = true;
          // A group that cannot tell another what settled stops (that group reads it from this one's output at its tick).
          if (t.tell.attempt >= TELL_ATTEMPTS) throw new Error(`group ${slice.index} could not tell another group what settled: ${failureMessage(t.task.result)}`);
          retells.push({ ...t.tell, attempt: t.tell.attempt + 1 });
        }
      }
      if (round.tasks.every((t) => t.task.isCompleted || t.task.isFaulted)) rounds.splice(i, 1);
    }
  };
  /**
   * Each VM's orchestration runs as a sub-orchestration of the group: the host starts it with the
   * group's first turn (no activity and no durable-client call before the VMs start: one queue hop
   * fewer on every boot's path), and tells the group when it ends. The group reads its reports;
   * its end matters only when it failed or was terminated before it sent them, or its start was
   * refused (an earlier boot's VM orchestration still holds the id).
   */
  const vmRuns = new Map<string, Task>();
  /** Tasks not yet shipped beside a wait (the VMs' orchestrations, at the first turn). */
  const unshipped: Task[] = [];
  for (const v of slice.vms) {
    const vm = v.spec.name;
    state.vmProvisioning(vm);
    const run = context.df.callSubOrchestrator(O.bootVm, vmInputOf(v), bootVmId(vm));
    vmRuns.set(vm, run);
    unshipped.push(run);
    pending.add(`vm:${vm}`);
  }
  const checkVms = (): void => {
    for (const [vm, run] of vmRuns) {
      if (run.isCompleted) vmRuns.delete(vm);
      else if (run.isFaulted) {
        vmRuns.delete(vm);
        vmEnded(vm, `its orchestration ${bootVmId(vm)} ended before it reported: ${failureMessage(run.result)}`);
      }
    }
  };

  try {
    // The group wakes only on its report wait, a fresh one each turn, listed once. The SDK gives an
    // event to its newest open wait and the extension to its oldest: with one open wait at a time
    // they agree, and no report reaches a wait the group no longer reads. What else it awaits
    // (starts, tells, the alarm clock) is looked at when a report comes.
    for (;;) {
      checkRounds();
      checkVms();
      if (rang) {
        const tick = rang;
        rang = undefined;
        // The groups whose word a step here still waits for: has one ended without it reaching us
        // (a tell the task hub refused, or a group terminated)? Then what it ended with is its word.
        // (A VM's orchestration that ends is told to the group by the host: see vmRuns.)
        const awaited = new Map<number, string[]>();
        for (const step of state.awaitedExternals()) {
          const group = slice.listen[step]!;
          awaited.set(group, [...(awaited.get(group) ?? []), step]);
        }
        if (awaited.size > 0) {
          try {
            // Alone: no report wait is open now, so a report that comes meanwhile waits for the next one.
            const groups = [...awaited].map(([g, steps]) => ({ instanceId: bootGroupId(g), steps }));
            const ended = yield* call(context, A.groupsSettled, { run: notify.run, groups, tick });
            for (const e of ended) for (const o of e.outcomes) state.externalSettled(o.step, o.ok);
          } catch {
            // The look failed: the next tick looks again.
          }
        }
      }
      const round = nextRound();
      const all = round.length > 0 ? context.df.Task.all(round.map((t) => t.task)) : undefined;
      if (all) rounds.push({ all, tasks: round });
      // Done when nothing is in flight here and nothing open waits on another group.
      if (pending.size === 0 && looking.size === 0 && !state.waitsOnExternal()) {
        if (rounds.length === 0) break;
        // Only the rounds' answers are still out (their reports came): no report is expected now,
        // so wait for them, each alone (already listed: yielded again, not listed anew).
        for (const r of rounds) if (!r.all.isCompleted && !r.all.isFaulted) yield* settleAll(context, r.tasks.map((t) => t.task), r.all);
        continue;
      }
      const ship: Task[] = [...unshipped.splice(0), ...(all ? [all] : [])];
      // Reports are expected, but some may never come: a step's activity killed before it reported
      // (at its timeout), another group ended before it told. The alarm clock wakes the group to
      // look (a tick is a report like any other).
      const tick = clock.wind();
      if (tick) ship.push(tick);
      showProgress();
      const wait = context.df.waitForExternalEvent(BOOT_PROGRESS);
      yield ship.length > 0 ? context.df.Task.any([wait, unwaited(context, ship)]) : wait;
      receive(valueOf<BootReport>(wait as TypedTask<BootReport>));
    }
  } catch (e) {
    // Whatever stopped this group (an activity past its retries, a group it could not tell) must
    // not leave the boot waiting: what is still open here fails with the reason, the groups that
    // wait on it are told (if they can be), and the root gets this group's report as always.
    state.abandon(`group ${slice.index} stopped: ${failureMessage(e)}`);
    const tells = tellsFor(slice, state.drainSettled(), (s) => state.state(s) === 'running');
    yield* settleAll(context, tell(tells).map((t) => t.task));
  }

  // From here on every episode sets the status (the loop's replayed iterations did not).
  context.df.setCustomStatus(state.progress('finished'));
  if (monitoring && !handoff) {
    const s = state.state(monitoring);
    const blockedBy = state.blockedReason(monitoring);
    const failure = state.failures().find((f) => f.target === monitoring && f.kind === 'service');
    handoff = blockedBy
      ? { name: monitoring, state: 'blocked', reason: `blocked by ${blockedBy}`, blockedBy }
      : { name: monitoring, state: 'failed', reason: failure ? `${failure.step}: ${failure.reason}` : `never became ready (${s})` };
  }
  const share = describeShare({
    state,
    vms: slice.plan.vms,
    steps: slice.steps.map((s) => ({ step: s.step, kind: s.kind, vm: s.vm, order: s.order })),
    vmInfo,
    running,
  });
  // Each failure is an event in the central database, recorded side by side.
  const at = isoAt(context);
  yield* settleAll(
    context,
    share.failures.map((f) =>
      activityTask(context, A.recordEvent, {
        target: f.target,
        targetKind: f.kind,
        type: 'failure',
        outcome: 'failed',
        reason: `${f.step}: ${f.reason}`,
        id: `${notify.run}:failure:${f.kind}:${f.target}`,
        operationId,
        at,
      } satisfies EventInput),
    ),
  );
  const summary: GroupSummary = {
    running: share.services.filter((s) => s.status === 'running').length,
    failed: share.failures.length,
    ...(handoff ? { monitoring: handoff } : {}),
  };
  let unreported: string | undefined;
  try {
    yield* reportTo(context, notify, { run: notify.run, kind: 'group', name: context.df.instanceId, summary });
  } catch (e) {
    // The root waits for this report. Refused past its retries, the group completes all the same:
    // the root's alarm clock finds it completed and reads the summary from its output.
    unreported = `group ${slice.index} could not report to the boot: ${failureMessage(e)}`;
  }
  return { ...share, summary, ...(unreported ? { unreported } : {}) } satisfies BootGroupOutput;
};

/** Per other group: the outcomes of steps here it depends on, among those just settled. */
function tellsFor(slice: BootGroupSlice, settled: string[], ran: (step: string) => boolean): Map<number, Array<{ step: string; ok: boolean }>> {
  const out = new Map<number, Array<{ step: string; ok: boolean }>>();
  for (const step of settled) {
    for (const group of slice.tell[step] ?? []) {
      const list = out.get(group);
      const outcome = { step, ok: ran(step) };
      if (list) list.push(outcome);
      else out.set(group, [outcome]);
    }
  }
  return out;
}
