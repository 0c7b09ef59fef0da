/**
 * Client-side pacing of ARM requests, below ARM's per-subscription budgets (reads 25/s with a burst
 * of 250, writes 10/s with a burst of 200): a wide boot fans out many long-running operations
 * whose polls would otherwise drain the read budget, and a request ARM throttles is not processed.
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

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): Promise<void> {
    const turn = this.queue.then(() => this.acquire());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    }
  }
}

/** A pipeline policy pacing reads (GET, HEAD) and writes through two buckets. */
export function armRateLimitPolicy(limits: ArmRateLimits = DEFAULT_ARM_LIMITS, clock?: Clock): PipelinePolicy {
  const reads = new TokenBucket(limits.readsPerSecond, limits.readBurst, clock);
  const writes = new TokenBucket(limits.writesPerSecond, limits.writeBurst, clock);
  return {
    name: 'lcmArmRateLimit',
    async sendRequest(request, next) {
      await (request.method === 'GET' || request.method === 'HEAD' ? reads : writes).take();
      return next(request);
    },
  };
}
