/**
 * ARM throttling as Azure answers it, inside the SDK pipeline (position perRetry, so it sees every
 * attempt before the SDK's own retry policy does):
 * - a 429/503 whose Retry-After is longer than an activity should sleep (Compute answers 429
 *   OperationNotAllowed with Retry-After up to 1200 s) is not waited out here: it ends the call with
 *   ArmRetryAfterError, which the activity hands to its orchestration as "retry after N s" (a durable
 *   timer, which costs nothing while it waits). Shorter waits are left to the SDK.
 * - a long-running operation's Retry-After (on its 201/202 and on each poll still running: Compute
 *   sends 10 then 50 s) is honoured up to `maxLroPollSeconds`; a longer one is lowered to that bound
 *   before the SDK's poller reads it, so a poll is never put off past it.
 * The SDK would otherwise sleep any Retry-After with no cap, past the 30-minute function timeout.
 */
import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';

/** Longest Retry-After waited out inside an activity (the rest goes to the orchestration). */
export const DEFAULT_MAX_RETRY_AFTER_SECONDS = 60;

/** Longest pause between two polls of a long-running operation (Compute's 50 s is honoured). */
export const DEFAULT_MAX_LRO_POLL_SECONDS = 60;

/** A throttled ARM call whose wait belongs to the orchestration. */
export class ArmRetryAfterError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly retryAfterSeconds: number,
    detail: string,
  ) {
    super(`${code}: ${detail} (ARM asks to retry after ${retryAfterSeconds} s)`);
    this.name = 'ArmRetryAfterError';
  }
}

/** Seconds from Retry-After / retry-after-ms / x-ms-retry-after-ms (undefined when absent or unreadable). */
export function retryAfterSecondsOf(response: PipelineResponse, now = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(response.headers.get(name));
    if (response.headers.get(name) && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  }
  const raw = response.headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - now) / 1000)) : undefined;
}

export function armRetryAfterCapPolicy(maxRetryAfterSeconds = DEFAULT_MAX_RETRY_AFTER_SECONDS, maxLroPollSeconds = DEFAULT_MAX_LRO_POLL_SECONDS): PipelinePolicy {
  return {
    name: 'lcmArmRetryAfterCap',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status >= 200 && response.status < 300) {
        // A long-running operation's advice: the SDK's poller sleeps it whole, so bound it here.
        const seconds = retryAfterSecondsOf(response);
        if (seconds !== undefined && seconds > maxLroPollSeconds) response.headers.set('retry-after', String(maxLroPollSeconds));
        return response;
      }
      if (response.status !== 429 && response.status !== 503) return response;
      const seconds = retryAfterSecondsOf(response);
      if (seconds === undefined || seconds <= maxRetryAfterSeconds) return response;
      const error = errorBody(response.bodyAsText);
      throw new ArmRetryAfterError(response.status, error.code ?? (response.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable'), seconds, (error.message ?? `ARM answered ${response.status}`).replace(/\s+/g, ' ').trim());
    },
  };
}

function errorBody(text: string | null | undefined): { code?: string; message?: string } {
  if (!text) return {};
  try {
    return (JSON.parse(text) as { error?: { code?: string; message?: string } }).error ?? {};
  } catch {
    return {};
  }
}
