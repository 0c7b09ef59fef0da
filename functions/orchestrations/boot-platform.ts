/**
 * The root orchestration (`boot`): prepare the boot in one activity (read the desired state, ensure
 * the resource group, version the code folders, start one `bootGroup` per group of VMs with its
 * share as input), wait for one report per group, then start the monitoring service, which comes
 * after everything else, start the watchdog, and return what came up, what failed and what it
 * blocked.
 *
 * The root holds neither the topology nor a report per VM or service: its history is a handful of
 * activities and one event per group, so its replays cost the same at 10 VMs as at 500
 * (platform/boot-groups.ts says why and how the platform is split). Groups report with events (as
 * their units report to them, see boot-group.ts): the root waits with a fresh waitForExternalEvent
 * each time, so every activity is scheduled once.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { A, O, type EndedInstance, type EventInput, type PrepareBootInput, type PreparedBoot, type StartInstancesInput, type StartServiceInput, type SummarizeBootInput } from '../activities/contracts.js';
import { endedBeforeReport, type BootOutput } from '../platform/boot-output.js';
import type { BootRootStatus } from '../platform/boot-state.js';
import { bootGroupId, bootStepId } from '../platform/ids.js';
import type { BootStepInput, BootStepOutput } from './boot-step.js';
import type { BootGroupOutput, MonitoringHandoff } from './boot-group.js';
import type { WatchdogInput } from './watchdog.js';
import { BOOT_PROGRESS, isoAt, settleAll, transientRetry, unwaited, type BootNotify, type BootReport } from './tasks.js';
import { activityTask, activityTaskWithRetry, call, valueOf, type TypedTask } from './calls.js';
import { alarmClock } from './alarm-clock.js';

export type { BootOutput } from '../platform/boot-output.js';

export interface BootInput {
  requestedBy?: string;
  /** VMs per group (default platform/boot-groups.ts BOOT_GROUP_VMS); tests and the bench set it. */
  groupVms?: number;
}

export const bootPlatform: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootInput | undefined>() ?? {};
  const operationId = context.df.instanceId;
  const bootedAt = isoAt(context);
  const notify: BootNotify = { instanceId: operationId, run: `${operationId}:${bootedAt}` };
  const event = (e: Omit<EventInput, 'id' | 'operationId' | 'at'>, suffix: string): Task =>
    activityTask(context, A.recordEvent, { ...e, id: `${operationId}:${bootedAt}:${suffix}`, operationId, at: isoAt(context) } satisfies EventInput);
  const status: BootRootStatus = { phase: 'starting', groups: 0, settled: 0 };
  const show = (): void => {
    if (!context.df.isReplaying) context.df.setCustomStatus(status);
  };
  show();

  // prepareBoot records the boot's start event too: one dispatch, one episode.
  const start = { id: `${operationId}:${bootedAt}:start`, operationId, at: bootedAt, ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}) };
  const [prepared] = yield* settleAll<unknown>(context, [
    activityTaskWithRetry(context, A.prepareBoot, transientRetry, { notify, operationId, start, ...(input.groupVms ? { groupVms: input.groupVms } : {}) } satisfies PrepareBootInput),
  ]);
  if (!prepared!.ok) throw new Error(prepared!.error);
  const boot = prepared!.value as PreparedBoot;

  let output: BootOutput;
  if (boot.state === 'failed') {
    output = boot.output;
    // Every VM and service failed with the resource group: their events side by side, then the end.
    yield* settleAll(
      context,
      output.failures.map((f) => event({ target: f.target, targetKind: f.kind, type: 'failure', outcome: 'failed', reason: `${f.step}: ${f.reason}` }, `failure:${f.kind}:${f.target}`)),
    );
    yield event({ target: 'platform', targetKind: 'platform', type: 'boot', outcome: 'failed', reason: output.failures.length ? `${output.failures.length} failure(s)` : undefined }, 'end');
  } else {
    status.groups = boot.groups;
    // The root's alarm clock, as a group's (alarm-clock.ts): at a tick it looks for the
    // orchestrations whose report it waits for and that ended without sending it (an operator
    // terminated a group, or the monitoring service's step).
    const clock = alarmClock(context, notify);
    /** This run's next report: a fresh wait each time, the clock shipped beside it when it is not out. */
    const nextReport = function* (): Generator<Task, BootReport, unknown> {
      for (;;) {
        const tick = clock.wind();
        const wait = context.df.waitForExternalEvent(BOOT_PROGRESS);
        yield tick ? context.df.Task.any([wait, unwaited(context, [tick])]) : wait;
        const report = valueOf<BootReport>(wait as TypedTask<BootReport>);
        // A report of an earlier boot's unit (still finishing when this boot began) is not ours.
        if (report.run === notify.run) return report;
      }
    };
    /**
     * Of these orchestrations, those that ended (looked at alone: no wait is open), and those of
     * this run that completed; none when the look fails.
     */
    const endedOf = function* (instanceIds: string[], tick: string): Generator<Task, EndedInstance[], unknown> {
      try {
        return yield* call(context, A.endedInstances, { instanceIds, tick, run: notify.run });
      } catch {
        return [];
      }
    };
    const waiting = new Set(Array.from({ length: boot.groups }, (_, i) => bootGroupId(i)));
    /** Groups that ended before they reported: their share is all failed (summarizeBoot), each an event. */
    const endedGroups: Task[] = [];
    let handoff: MonitoringHandoff | undefined;
    while (waiting.size > 0) {
      show();
      const report = yield* nextReport();
      if (clock.rings(report)) {
        for (const e of yield* endedOf([...waiting], report.name)) {
          waiting.delete(e.instanceId);
          status.settled += 1;
          if (e.runtimeStatus === 'Completed') {
            // Completed without its report reaching here: the report is in its output.
            const summary = (e.output as BootGroupOutput | undefined)?.summary;
            if (summary?.monitoring) handoff = summary.monitoring;
            continue;
          }
          const reason = `${endedBeforeReport(e.instanceId, e.runtimeStatus)}: its VMs and services failed`;
          endedGroups.push(event({ target: 'platform', targetKind: 'platform', type: 'failure', outcome: 'failed', reason }, `ended:${e.instanceId}`));
        }
        continue;
      }
      if (report.kind !== 'group' || !waiting.delete(report.name)) continue;
      status.settled += 1;
      if (report.summary.monitoring) handoff = report.summary.monitoring;
    }

    // Monitoring last: everything else has settled in every group.
    let monitoring: SummarizeBootInput['monitoring'];
    let watch: WatchdogInput | undefined;
    let failed: Task | undefined;
    // Found running as wanted by its group (a healthy re-boot): nothing to start, only to watch.
    let outcome: { ok: true; host: string; port: number; startedAt: string } | { ok: false; reason: string } | undefined;
    let target: Pick<StartServiceInput, 'service' | 'vm'> | undefined;
    if (handoff?.state === 'running') {
      const { host, port, startedAt } = handoff.started;
      outcome = { ok: true, host, port, startedAt };
      target = handoff;
    } else if (handoff?.state === 'ready') {
      target = handoff.start;
      status.monitoring = { name: handoff.name, state: 'starting' };
      show();
      const stepInput: BootStepInput = { step: handoff.name, service: handoff.start, notify };
      const starts: StartInstancesInput['instances'] = [{ name: O.bootStep, instanceId: bootStepId(handoff.name), input: stepInput }];
      const [started] = yield* call(context, A.startInstances, { instances: starts });
      if (!started!.started) outcome = { ok: false, reason: `not started: ${started!.reason}` };
      else {
        for (;;) {
          const report = yield* nextReport();
          if (clock.rings(report)) {
            const [gone] = yield* endedOf([bootStepId(handoff.name)], report.name);
            if (!gone) continue;
            if (gone.runtimeStatus !== 'Completed') {
              outcome = { ok: false, reason: endedBeforeReport(gone.instanceId, gone.runtimeStatus) };
              break;
            }
            // Completed without its report reaching here: the outcome is its output.
            const r = gone.output as BootStepOutput;
            outcome = r.ok ? { ok: true, host: r.started.host, port: r.started.port, startedAt: r.started.startedAt } : { ok: false, reason: r.reason };
            break;
          }
          if (report.kind !== 'step' || report.name !== handoff.name) continue;
          const r = report.output;
          outcome = r.ok ? { ok: true, host: r.started.host, port: r.started.port, startedAt: r.started.startedAt } : { ok: false, reason: r.reason };
          break;
        }
      }
    }
    if (handoff && outcome && target) {
      if (outcome.ok) {
        monitoring = { name: handoff.name, service: { status: 'running', host: outcome.host, port: outcome.port, startedAt: outcome.startedAt } };
        watch = {
          service: target.service,
          vm: target.vm,
          intervalInMs: boot.watchdog.intervalInMs,
          failuresBeforeRestart: boot.watchdog.failuresBeforeRestart,
        };
      } else {
        const failure = { target: handoff.name, kind: 'service' as const, step: 'start', reason: outcome.reason };
        monitoring = { name: handoff.name, service: { status: 'failed' }, failure };
        failed = event({ target: failure.target, targetKind: failure.kind, type: 'failure', outcome: 'failed', reason: `${failure.step}: ${failure.reason}` }, `failure:service:${handoff.name}`);
      }
      status.monitoring = { name: handoff.name, state: outcome.ok ? 'running' : 'failed' };
    }
    // The output (with the boot's end event), the watchdog and monitoring's failure side by side:
    // none needs another.
    const summary = activityTaskWithRetry(context, A.summarizeBoot, transientRetry, {
      groups: Array.from({ length: boot.groups }, (_, i) => bootGroupId(i)),
      ...(monitoring ? { monitoring } : {}),
      end: { id: `${operationId}:${bootedAt}:end`, operationId, at: isoAt(context) },
    } satisfies SummarizeBootInput);
    // The watchdog is an independent, eternal instance: an activity starts it through the client.
    const tasks: Array<TypedTask<unknown>> = [summary];
    if (watch) tasks.push(activityTask(context, A.startWatchdog, watch));
    if (failed) tasks.push(failed);
    tasks.push(...endedGroups);
    const [summarized, second] = yield* settleAll(context, tasks);
    const watchdog = watch ? second : undefined;
    if (!summarized!.ok) throw new Error(summarized!.error);
    if (watchdog && !watchdog.ok) {
      // The end event (recorded with the summary) says what came up; the log says what did not start.
      const reason = `the watchdog could not start: ${watchdog.error}`;
      yield* settleAll(context, [event({ target: 'platform', targetKind: 'platform', type: 'watchdog', outcome: 'failed', reason }, 'watchdog')]);
      throw new Error(reason);
    }
    output = summarized!.value as BootOutput;
  }

  status.phase = 'finished';
  context.df.setCustomStatus(status);
  return output;
};
