/**
 * The alarm clock of an orchestration that waits for reports (a boot group, the boot's root): a
 * `bootTick` sub-orchestration (boot-tick.ts) that raises a `tick` report after a while, so that the
 * owner, which wakes on its report wait only, wakes now and then to look for reports that will never
 * come (what should send them ended without doing so).
 *
 * A minute after the last report, doubling while none comes (a build of many minutes), up to 8 min.
 * Deterministic: the tick's id comes from the owner's newGuid, called in the same order on replay.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { O } from '../activities/contracts.js';
import { bootTickId } from '../platform/ids.js';
import type { BootTickInput } from './boot-tick.js';
import type { BootNotify, BootReport } from './tasks.js';

const FIRST_CHECK_MS = 60_000;
const LONGEST_CHECK_MS = 8 * 60_000;

export interface AlarmClock {
  /**
   * The owner hands it every report of its run: any other report restarts the quiet count; true
   * when the report is this clock's tick (the owner looks now, then winds the clock again).
   */
  rings(report: BootReport): boolean;
  /** The clock's sub-orchestration to ship beside the owner's next wait, when none is out. */
  wind(): Task | undefined;
}

/** `owner`: where the tick is raised (the owner's instance and run). */
export function alarmClock(context: OrchestrationContext, owner: BootNotify): AlarmClock {
  let out: { id: string; task: Task } | undefined;
  /** Ticks since the last report. */
  let quiet = 0;
  return {
    rings(report) {
      if (report.kind !== 'tick') {
        quiet = 0;
        return false;
      }
      // A tick of a clock this run no longer waits for (an earlier one's, or another owner's) is not ours.
      if (out?.id !== report.name) return false;
      out = undefined;
      quiet++;
      return true;
    },
    wind() {
      // A clock that failed (its raise refused past its retries) is wound again.
      if (out?.task.isFaulted) out = undefined;
      if (out) return undefined;
      const id = bootTickId(context.df.instanceId, context.df.newGuid(context.df.instanceId));
      const afterInMs = Math.min(FIRST_CHECK_MS * 2 ** quiet, LONGEST_CHECK_MS);
      out = { id, task: context.df.callSubOrchestrator(O.bootTick, { notify: owner, afterInMs } satisfies BootTickInput, id) };
      return out.task;
    },
  };
}
