/**
 * Hang guards: how long a test or a wait may take before it is called hung. They bound, never
 * assert, a duration (timings go in bench/). The machines these tests run on are 2 shared cores
 * whose speed was seen to vary 2.6× over one day (the same stubbed boot bench: 141 then 365 ms of
 * CPU per VM), so each guard is the time a step takes on a quiet machine times this factor.
 * LCM_TEST_HANG_FACTOR changes it (e.g. 1 to find a hang sooner on a quiet machine).
 */
export const HANG_FACTOR = Number(process.env.LCM_TEST_HANG_FACTOR || 2.5);

/** A quiet machine's bound, scaled for a slow one. */
export function hang(ms: number): number {
  return Math.round(ms * HANG_FACTOR);
}
