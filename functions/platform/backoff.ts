/**
 * Restart back-off, after Kubernetes: the first restart is immediate, then the delay doubles from
 * the initial value up to a cap; a target that stayed healthy for `resetAfterInMs` starts over;
 * after `maxFailures` restarts in one streak it is marked failed instead of restarted forever.
 */
export interface BackoffPolicy {
  initialBackoffInMs: number;
  maxBackoffInMs: number;
  resetAfterInMs: number;
  maxFailures: number;
}

export interface RestartStreak {
  /** Restarts in the current streak (0 when none, or after a reset). */
  streak: number;
  /** ISO time of the last restart, if any. */
  lastRestartAt?: string;
}

export type RestartDecision =
  | {
      action: 'restart';
      /** How long to wait now: the back-off less the time since the last restart. */
      delayInMs: number;
      /** The policy's spacing for this restart (0 for the first of a streak). */
      backoffInMs: number;
      streak: number;
    }
  | { action: 'give-up'; streak: number; reason: string };

export function decideRestart(policy: BackoffPolicy, history: RestartStreak, now: Date): RestartDecision {
  const last = history.lastRestartAt ? Date.parse(history.lastRestartAt) : undefined;
  const reset = last === undefined || now.getTime() - last >= policy.resetAfterInMs;
  const previous = reset ? 0 : history.streak;
  if (previous >= policy.maxFailures) {
    return {
      action: 'give-up',
      streak: previous,
      reason: `restarted ${previous} times within ${Math.round(policy.resetAfterInMs / 1000)} s without staying healthy; marked failed (raise settings.restart.maxFailures or fix the service, then restart it by hand)`,
    };
  }
  const backoffInMs = previous === 0 ? 0 : Math.min(policy.maxBackoffInMs, policy.initialBackoffInMs * 2 ** (previous - 1));
  // The back-off counts from the last restart: time already spent waiting is not waited again.
  const waited = last === undefined ? 0 : Math.max(0, now.getTime() - last);
  return { action: 'restart', delayInMs: Math.max(0, backoffInMs - waited), backoffInMs, streak: previous + 1 };
}
