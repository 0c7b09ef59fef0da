/**
 * Client-side pacing of ARM requests, below ARM's per-subscription budgets (reads 25/s with a burst
 * of 250, writes 10/s with a burst of 200): a wide boot fans out many long-running operations
 * whose polls would otherwise drain the read budget, and a request ARM throttles is not processed.
 *
 * The budget is ARM's, per principal and subscription, and up to 3 Elastic Premium workers share
 * it; each process only knows its own bucket. So every response's `x-ms-ratelimit-remaining-
 * subscription-(global-)reads/writes` (what ARM says is left of the shared budget) feeds back:
 * when it falls below `lowWater`, this process keeps at most `remaining / workers` tokens and
 * refills at `ARM's refill rate / workers` until ARM reports the budget above lowWater again.
 * What holds across 3 workers: once each has seen the budget low, together they send at most
 * ARM's refill rate, so the budget stops draining; before that (and between two reports) they may
 * send up to `workers ×` their own rate, absorbed by ARM's burst, and a 429 that still comes is
 * retried by the SDK after its Retry-After.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

export interface ArmRateLimits {
  readsPerSecond: number;
  readBurst: number;
  writesPerSecond: number;
  writeBurst: number;
}

/** Safely under ARM's documented budgets, leaving room for other callers in the subscription. */
export const DEFAULT_ARM_LIMITS: ArmRateLimits = { readsPerSecond: 20, readBurst: 200, writesPerSecond: 8, writeBurst: 150 };

/** How the processes sharing one principal's budget pace themselves from ARM's remaining counts. */
export interface SharedBudget {
  /** Processes sharing the principal (the plan's maximumElasticWorkerCount); default 3. */
  workers: number;
  /** Below this many remaining requests (as ARM reports), slow down; default 50 reads, 40 writes. */
  readLowWater: number;
  writeLowWater: number;
  /** ARM's refill rates (25 reads/s, 10 writes/s): when low, each worker sends at most its share of them. */
  armReadsPerSecond: number;
  armWritesPerSecond: number;
}

export const DEFAULT_SHARED_BUDGET: SharedBudget = { workers: 3, readLowWater: 50, writeLowWater: 40, armReadsPerSecond: 25, armWritesPerSecond: 10 };

const REMAINING_READS = ['x-ms-ratelimit-remaining-subscription-global-reads', 'x-ms-ratelimit-remaining-subscription-reads'];
const REMAINING_WRITES = ['x-ms-ratelimit-remaining-subscription-global-writes', 'x-ms-ratelimit-remaining-subscription-writes'];

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** A token bucket; callers wait in arrival order. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  /** The refill rate now: `perSecond`, or this process's share of ARM's while ARM reports the budget low. */
  private rate: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
    this.rate = perSecond;
  }

  /**
   * ARM reports `remaining` requests left of the budget this bucket shares with `workers` processes:
   * below `lowWater`, keep at most this process's share (possibly less than one token: then wait).
   */
  observeRemaining(remaining: number, lowWater: number, workers: number, armPerSecond: number): void {
    if (!Number.isFinite(remaining)) return;
    this.refill();
    if (remaining >= lowWater) {
      this.rate = this.perSecond;
      return;
    }
    const share = Math.max(1, workers);
    this.rate = Math.min(this.perSecond, armPerSecond / share);
    this.tokens = Math.min(this.tokens, remaining / share - 1);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  take(): Promise<void> {
    const turn = this.queue.then(() => this.acquire());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async acquire(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
    }
  }
}

/**
 * A pipeline policy pacing reads (GET, HEAD) and writes through two buckets, fed back by ARM's
 * remaining counts. Place it perRetry: every attempt, retries included, takes a token.
 */
export function armRateLimitPolicy(limits: ArmRateLimits = DEFAULT_ARM_LIMITS, clock?: Clock, shared: SharedBudget = DEFAULT_SHARED_BUDGET): PipelinePolicy {
  const reads = new TokenBucket(limits.readsPerSecond, limits.readBurst, clock);
  const writes = new TokenBucket(limits.writesPerSecond, limits.writeBurst, clock);
  return {
    name: 'lcmArmRateLimit',
    async sendRequest(request, next) {
      const isRead = request.method === 'GET' || request.method === 'HEAD';
      await (isRead ? reads : writes).take();
      const response = await next(request);
      const remaining = firstNumber(response.headers, isRead ? REMAINING_READS : REMAINING_WRITES);
      if (remaining !== undefined) {
        if (isRead) reads.observeRemaining(remaining, shared.readLowWater, shared.workers, shared.armReadsPerSecond);
        else writes.observeRemaining(remaining, shared.writeLowWater, shared.workers, shared.armWritesPerSecond);
      }
      return response;
    },
  };
}

function firstNumber(headers: { get(name: string): string | undefined }, names: string[]): number | undefined {
  for (const name of names) {
    const raw = headers.get(name);
    if (raw !== undefined && raw !== '' && Number.isFinite(Number(raw))) return Number(raw);
  }
  return undefined;
}
