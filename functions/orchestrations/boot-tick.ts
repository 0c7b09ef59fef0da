/**
 * An alarm clock (instance `tick-<owner>-<guid>`, a sub-orchestration of a boot group or of the
 * boot's root; alarm-clock.ts winds it): wait on a durable timer, then raise a `tick` report to
 * its owner.
 *
 * Why not a timer in the owner itself: a group (and the root) wakes only on its report wait
 * (boot-group.ts), so that the SDK and the extension always hand each report to the same wait. A
 * timer raced against that wait could win, and a wait that lost a race can never be listed again.
 * A tick comes as a report, through the same wait. At a tick the owner looks for reports that will
 * never come: a step's activity that failed before it reported (killed at its timeout), a group
 * terminated before it told or reported.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { reportTo, type BootNotify } from './tasks.js';

export interface BootTickInput {
  /** The group and its run. */
  notify: BootNotify;
  afterInMs: number;
}

export const bootTick: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { notify, afterInMs } = context.df.getInput<BootTickInput>();
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + afterInMs));
  // A group that finished meanwhile is not running: the client's raise succeeds and drops it (410).
  yield* reportTo(context, notify, { run: notify.run, kind: 'tick', name: context.df.instanceId });
};
