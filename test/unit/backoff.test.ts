import { describe, expect, it } from 'vitest';
import { decideRestart, type BackoffPolicy } from '../../functions/platform/backoff.js';

const policy: BackoffPolicy = { initialBackoffInMs: 10_000, maxBackoffInMs: 300_000, resetAfterInMs: 600_000, maxFailures: 8 };
const t0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms);
const iso = (ms: number) => at(ms).toISOString();

describe('restart back-off', () => {
  it('restarts at once the first time', () => {
    expect(decideRestart(policy, { streak: 0 }, at(0))).toEqual({ action: 'restart', delayInMs: 0, backoffInMs: 0, streak: 1 });
  });

  it('doubles from 10 s up to the 5 min cap within a streak', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((streak) => {
      const d = decideRestart(policy, { streak, lastRestartAt: iso(0) }, at(0));
      return d.action === 'restart' ? d.delayInMs : -1;
    });
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  it('counts the delay from the last restart', () => {
    const d = decideRestart(policy, { streak: 2, lastRestartAt: iso(0) }, at(15_000));
    expect(d).toEqual({ action: 'restart', delayInMs: 5_000, backoffInMs: 20_000, streak: 3 });
  });

  it('resets after ten healthy minutes', () => {
    expect(decideRestart(policy, { streak: 7, lastRestartAt: iso(0) }, at(600_000))).toEqual({ action: 'restart', delayInMs: 0, backoffInMs: 0, streak: 1 });
  });

  it('gives up after maxFailures restarts in one streak', () => {
    const d = decideRestart(policy, { streak: 8, lastRestartAt: iso(0) }, at(1_000));
    expect(d.action).toBe('give-up');
    if (d.action === 'give-up') expect(d.reason).toMatch(/restarted 8 times within 600 s/);
  });
});
