/**
 * How the boot follows a build running on a VM: polls spaced by durable timers, starting short (a
 * build of a few seconds is seen soon) and growing (a build of minutes costs few history events),
 * and a deadline after which the build is reported failed.
 *
 * Why ×1.5 up to 10 s rather than doubling to 15 s: a build is seen done at most one interval late,
 * and the interval is a share of the time already waited (50 % here, 100 % when doubling), so a
 * 19 s build (a first build on a fresh VM) is seen 2 s late instead of 11 s; at the cap, a build of
 * 20 minutes still costs about 125 polls (three history events each) on its VM's orchestration.
 */

export const BUILD_POLL = {
  firstDelayInMs: 1_000,
  growth: 1.5,
  maxDelayInMs: 10_000,
  /**
   * The whole fetch and build on the VM: the VM's own bounds (cloud/docker-host.ts STEP_TIMEOUTS:
   * fetch 5 min + build 20 min) and a margin for the polls.
   */
  timeoutInMs: 27 * 60_000,
} as const;

/** The wait before the next poll: growing, capped (whole milliseconds: timers carry dates). */
export function nextPollDelay(delayInMs: number): number {
  return Math.min(Math.round(delayInMs * BUILD_POLL.growth), BUILD_POLL.maxDelayInMs);
}
