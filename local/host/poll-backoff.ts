/**
 * How a worker polls the task hub's queues when they are empty, as the Azure Storage backend does
 * (DurableTask.AzureStorage TaskHubQueue and BackoffPollingHelper, Azure/durabletask at
 * 0d6757498ba992b71184b282f2a6d7bf93c0c4cc): a randomized exponential backoff from 50 ms up to
 * `maxQueuePollingInterval` (host.json; 30 s when unset). A poll that finds messages, and a message
 * this worker sends itself (the backend resets its own queue's poller when it adds a message), end
 * the wait at once and start the backoff over. A message another instance sends, or one that only
 * becomes visible later (a durable timer's), is found at the next poll: up to the interval late.
 */

/** The backend's shortest wait between empty polls. */
export const MIN_QUEUE_POLL_MS = 50;
/** The durable extension's default maxQueuePollingInterval. */
export const DEFAULT_MAX_QUEUE_POLL_MS = 30_000;
/** The backend's RandomizedExponentialBackoffStrategy: each step is ±20 %. */
const RANDOMIZATION = 0.2;

export class QueuePollBackoff {
  private readonly maxMs: number;
  /** The wait after the next empty poll (the backend's CurrentInterval), and its exponent. */
  private current = 0;
  private exponent = 0;
  private signaled = false;

  constructor(maxMs: number, private readonly random: () => number = Math.random) {
    this.maxMs = Math.max(maxMs, MIN_QUEUE_POLL_MS);
  }

  /** A poll found messages, or this worker sent one: the next wait ends at once (the backend's Reset). */
  reset(): void {
    this.signaled = true;
  }

  /** A poll found nothing: how long to wait before the next one, ms. */
  waitAfterEmptyPollMs(): number {
    if (this.signaled) {
      // The wait returns at once, signaled: the backoff starts over from its minimum.
      this.signaled = false;
      this.current = MIN_QUEUE_POLL_MS;
      this.exponent = 1;
      return 0;
    }
    const wait = this.current;
    if (this.current !== this.maxMs) {
      let next = MIN_QUEUE_POLL_MS;
      if (this.exponent > 0) next += (1 - RANDOMIZATION + 2 * RANDOMIZATION * this.random()) * 2 ** (this.exponent - 1) * MIN_QUEUE_POLL_MS;
      if (next < this.maxMs) {
        this.current = next;
        this.exponent++;
      } else {
        this.current = this.maxMs;
      }
    }
    return wait;
  }
}

/**
 * A host.json time span (`hh:mm:ss`, optionally `d.hh:mm:ss` and fractional seconds, as .NET's
 * TimeSpan reads it) in ms; undefined when it is not one.
 */
export function timeSpanMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!m) return undefined;
  const [, days, hours, minutes, seconds, fraction] = m;
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 59) return undefined;
  const ms = ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + Math.round(Number(`0.${fraction ?? '0'}`) * 1000);
  return ms;
}
