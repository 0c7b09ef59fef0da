import { describe, expect, it } from 'vitest';
import { TokenBucket, type Clock } from '../../functions/cloud/arm-rate-limit.js';

/** Virtual time: sleeping advances the clock, so the test measures pacing, not the machine. */
function virtualClock(): Clock & { t: number } {
  const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
  return clock;
}

describe('ARM pacing', () => {
  it('lets a burst through at once, then paces to the rate', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(10, 5, clock);
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(clock.t).toBe(0);
    for (let i = 0; i < 10; i++) await bucket.take();
    // Ten more at 10 per second: about one second of (virtual) waiting.
    expect(clock.t).toBeGreaterThanOrEqual(1_000);
    expect(clock.t).toBeLessThan(1_200);
  });

  it('serves concurrent callers in arrival order', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(1, 1, clock);
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => bucket.take().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3]);
    expect(clock.t).toBeGreaterThanOrEqual(3_000);
  });

  it('refills while idle, up to the burst', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(2, 4, clock);
    for (let i = 0; i < 4; i++) await bucket.take();
    clock.t += 60_000;
    const before = clock.t;
    for (let i = 0; i < 4; i++) await bucket.take();
    expect(clock.t).toBe(before);
    await bucket.take();
    expect(clock.t).toBeGreaterThan(before);
  });
});

describe('ARM pacing fed back by x-ms-ratelimit-remaining-*', () => {
  it('below the low-water mark, keeps this worker\'s share of what ARM says remains and refills at its share of ARM\'s rate', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, 100, clock);
    await bucket.take();
    // ARM: 6 left of the shared budget, 3 workers, ARM refills 6/s: this worker keeps 6/3 - 1 = 1 token.
    bucket.observeRemaining(6, 50, 3, 6);
    await bucket.take();
    expect(clock.t).toBe(0);
    // The next token comes at 6/3 = 2 per second: 500 ms, not the 10 ms of the worker's own rate.
    await bucket.take();
    expect(clock.t).toBeGreaterThanOrEqual(500);
    // ARM reports the budget refilled: back to the worker's own rate.
    bucket.observeRemaining(200, 50, 3, 6);
    const before = clock.t;
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(clock.t - before).toBeLessThanOrEqual(60);
  });
});
