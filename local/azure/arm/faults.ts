/**
 * Fault injection for the ARM emulator: throttling (429 + Retry-After), server errors (500) and
 * long-running operations that end Failed with a chosen ARM code (e.g. AllocationFailed).
 * Each fault is consumed by the next matching request or operation, `count` times.
 */
import type { LroKind, OperationKind } from './kinds.js';

export interface ThrottleFault {
  /** How many matching requests get 429 (default 1). */
  count?: number;
  /** The Retry-After header in seconds (default 1). */
  retryAfterSeconds?: number;
}

export interface ServerErrorFault {
  count?: number;
  /** The ARM error code in the body (default InternalServerError). */
  code?: string;
}

export interface OperationFault {
  /** Only operations on this VM (or resource) name match; any name when absent. */
  vmName?: string;
  /** ARM error code the operation ends with, e.g. AllocationFailed. */
  code: string;
  message?: string;
  count?: number;
}

interface Pending<T> {
  kind: OperationKind | '*';
  remaining: number;
  fault: T;
}

export interface RequestFault {
  status: number;
  code: string;
  message: string;
  details?: Array<{ code: string; message: string; target?: string }>;
  retryAfterSeconds?: number;
}

/** Any ARM error response, answered to the next `count` matching requests (see AZURE_ERRORS). */
export interface ArmErrorFault extends RequestFault {
  count?: number;
}

/**
 * Errors real ARM answers for busy or throttled resources, in the shapes the providers send
 * (Network: 429 RetryableError with the reason in details; Compute throttling: 429
 * OperationNotAllowed naming the exhausted policy, Retry-After up to 1200 s; Compute preemption:
 * the older long-running operation ends Failed OperationPreempted).
 */
export const AZURE_ERRORS = {
  networkAnotherOperation: (retryAfterSeconds = 10): RequestFault => ({
    status: 429,
    code: 'RetryableError',
    message: 'A retryable error occurred.',
    details: [{ code: 'RetryableErrorDueToAnotherOperation', message: 'Operation PutNetworkInterfaceOperation is waiting on another operation on the same resource to complete.' }],
    retryAfterSeconds,
  }),
  networkReferencedNotProvisioned: (retryAfterSeconds = 10): RequestFault => ({
    status: 429,
    code: 'RetryableError',
    message: 'A retryable error occurred.',
    details: [{ code: 'ReferencedResourceNotProvisioned', message: 'Cannot proceed with operation because a resource it references is not in Succeeded state. Resource is in Updating state.' }],
    retryAfterSeconds,
  }),
  computeThrottled: (retryAfterSeconds: number, policy = 'HighCostGet3Min'): RequestFault => ({
    status: 429,
    code: 'OperationNotAllowed',
    message: 'The server rejected the request because too many requests have been received for this subscription.',
    details: [{ code: 'TooManyRequests', target: policy, message: JSON.stringify({ operationGroup: policy, allowedRequestCount: 300, measuredRequestCount: 301 }) }],
    retryAfterSeconds,
  }),
  /** For failOperation: the long-running operation a newer one replaced. */
  operationPreempted: { code: 'OperationPreempted', message: 'Operation execution has been preempted by a more recent operation.' },
} as const;

export class ArmFaults {
  private throttles: Pending<ThrottleFault>[] = [];
  private serverErrors: Pending<ServerErrorFault>[] = [];
  private operations: Pending<OperationFault>[] = [];
  private errors: Pending<ArmErrorFault>[] = [];

  /** The next `count` requests of `kind` get this ARM error (e.g. AZURE_ERRORS.networkAnotherOperation()). */
  armError(kind: OperationKind | '*', fault: ArmErrorFault): void {
    this.errors.push({ kind, remaining: fault.count ?? 1, fault });
  }

  /** The next `count` requests of `kind` (or of any kind with '*') get 429 with Retry-After. */
  throttle(kind: OperationKind | '*', fault: ThrottleFault = {}): void {
    this.throttles.push({ kind, remaining: fault.count ?? 1, fault });
  }

  /** The next `count` requests of `kind` get 500 (the SDK retries them with exponential back-off). */
  serverError(kind: OperationKind | '*', fault: ServerErrorFault = {}): void {
    this.serverErrors.push({ kind, remaining: fault.count ?? 1, fault });
  }

  /** The next `count` long-running operations of `kind` (optionally on one VM) end Failed with `code`. */
  failOperation(kind: LroKind | '*', fault: OperationFault): void {
    this.operations.push({ kind, remaining: fault.count ?? 1, fault });
  }

  /** Forget every pending fault. */
  clear(): void {
    this.throttles = [];
    this.serverErrors = [];
    this.operations = [];
    this.errors = [];
  }

  /** How many injected faults are still waiting to fire. */
  pending(): number {
    const sum = (list: Pending<unknown>[]) => list.reduce((n, p) => n + p.remaining, 0);
    return sum(this.throttles) + sum(this.serverErrors) + sum(this.operations) + sum(this.errors);
  }

  /** @internal Consumes the request-level fault (throttle first) matching this request, if any. */
  takeRequestFault(kind: OperationKind): RequestFault | undefined {
    const error = take(this.errors, kind);
    if (error) {
      const { count: _count, ...fault } = error;
      return fault;
    }
    const throttle = take(this.throttles, kind);
    if (throttle) {
      const retryAfterSeconds = throttle.retryAfterSeconds ?? 1;
      return {
        status: 429,
        code: 'TooManyRequests',
        message: `The request is being throttled (injected fault on ${kind}). Retry after ${retryAfterSeconds} seconds.`,
        retryAfterSeconds,
      };
    }
    const serverError = take(this.serverErrors, kind);
    if (serverError) {
      return {
        status: 500,
        code: serverError.code ?? 'InternalServerError',
        message: `An internal server error occurred (injected fault on ${kind}).`,
      };
    }
    return undefined;
  }

  /** @internal Consumes the operation fault matching this long-running operation, if any. */
  takeOperationFault(kind: OperationKind, resourceName: string): { code: string; message: string } | undefined {
    const fault = take(this.operations, kind, (f) => !f.vmName || f.vmName.toLowerCase() === resourceName.toLowerCase());
    if (!fault) return undefined;
    return { code: fault.code, message: fault.message ?? `Injected failure of ${kind} on "${resourceName}".` };
  }
}

function take<T>(list: Pending<T>[], kind: OperationKind, extra?: (fault: T) => boolean): T | undefined {
  const index = list.findIndex((p) => (p.kind === '*' || p.kind === kind) && (!extra || extra(p.fault)));
  if (index < 0) return undefined;
  const pending = list[index]!;
  pending.remaining--;
  if (pending.remaining <= 0) list.splice(index, 1);
  return pending.fault;
}
