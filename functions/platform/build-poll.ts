/**
 * How the boot follows a build running on a VM: polls spaced by durable timers, starting short (a
 * build of a few seconds is seen soon) and growing (a build of minutes costs few history events),
 * and a deadline after which the build is reported failed.
 */

export const BUILD_POLL = {
  firstDelayInMs: 1_000,
  maxDelayInMs: 15_000,
  /**
   * The whole fetch and build on the VM: the VM's own bounds (cloud/docker-host.ts STEP_TIMEOUTS:
   * fetch 5 min + build 20 min) and a margin for the polls.
   */
  timeoutInMs: 27 * 60_000,
} as const;

/** The wait before the next poll: doubling, capped. */
export function nextPollDelay(delayInMs: number): number {
  return Math.min(delayInMs * 2, BUILD_POLL.maxDelayInMs);
}
