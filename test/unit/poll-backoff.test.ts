/**
 * The local host's queue polling against the Azure Storage backend's (DurableTask.AzureStorage
 * BackoffPollingHelper at Azure/durabletask 0d6757498ba992b71184b282f2a6d7bf93c0c4cc): 50 ms, then
 * each wait 50 ms + (0.8..1.2) × 2^(n-1) × 50 ms, capped at maxQueuePollingInterval; a poll that
 * found work, or work this worker sent, starts it over.
 */
import { describe, expect, it } from 'vitest';
import { QueuePollBackoff, timeSpanMs } from '../../local/host/poll-backoff.js';

const waits = (b: QueuePollBackoff, n: number) => Array.from({ length: n }, () => b.waitAfterEmptyPollMs());

describe('queue poll backoff (the Azure Storage backend\'s)', () => {
  it('grows from nothing through 50 ms exponentially to the maximum and stays there', () => {
    expect(waits(new QueuePollBackoff(2_000, () => 0.5), 11)).toEqual([0, 50, 100, 150, 250, 450, 850, 1650, 2000, 2000, 2000]);
    // The extension's default maximum, 30 s, is reached after about ten empty polls.
    expect(waits(new QueuePollBackoff(30_000, () => 0.5), 14).slice(-3)).toEqual([25650, 30000, 30000]);
  });

  it('randomizes each step by ±20 %', () => {
    const low = waits(new QueuePollBackoff(60_000, () => 0), 6);
    const high = waits(new QueuePollBackoff(60_000, () => 0.9999), 6);
    expect(low).toEqual([0, 50, 90, 130, 210, 370]);
    high.forEach((w, i) => expect(w).toBeCloseTo([0, 50, 110, 170, 290, 530][i]!, 0));
  });

  it('starts over when a poll found work or this worker sent some: at once, then 50 ms', () => {
    const b = new QueuePollBackoff(2_000, () => 0.5);
    waits(b, 8);
    b.reset();
    expect(waits(b, 4)).toEqual([0, 50, 100, 150]);
  });

  it('never waits less than the backend\'s minimum, whatever the maximum', () => {
    expect(waits(new QueuePollBackoff(10, () => 0.5), 4)).toEqual([0, 50, 50, 50]);
  });

  it('reads host.json time spans as .NET does, and nothing else', () => {
    expect(timeSpanMs('00:00:02')).toBe(2_000);
    expect(timeSpanMs('00:00:30')).toBe(30_000);
    expect(timeSpanMs('00:01:00.250')).toBe(60_250);
    expect(timeSpanMs('1.00:00:00')).toBe(86_400_000);
    for (const bad of ['2s', '00:61:00', '24:00:00', '', 2000, undefined]) expect(timeSpanMs(bad), String(bad)).toBeUndefined();
  });
});
