/**
 * Long-running operations as ARM runs them: the initial response carries an Azure-AsyncOperation
 * URL (and, for POST/DELETE, a Location URL) and the provider's Retry-After; the async-operation URL
 * answers InProgress (with Retry-After) until the operation's latency has passed and its work is
 * done, then Succeeded or Failed with `{code,message}`.
 */
import { randomUUID } from 'node:crypto';
import { ArmError } from './errors.js';
import type { ArmFaults } from './faults.js';
import type { OperationKind } from './kinds.js';

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed';

export interface AsyncOperation {
  id: string;
  sub: string;
  namespace: string;
  location: string;
  kind: OperationKind;
  resourceName: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
}

export interface StartOperation {
  sub: string;
  namespace: string;
  location: string;
  kind: OperationKind;
  resourceName: string;
  /** The operation's effect, run after its latency. Throw ArmError to end it Failed with that code. */
  work: () => Promise<void>;
  /** Called when the operation ends Failed (injected fault or thrown error), to settle resource state. */
  onFailed: (error: { code: string; message: string }) => void;
}

export interface OperationRunnerContext {
  faults: ArmFaults;
  latencyOf(kind: OperationKind): number;
  endpoint(): string;
  /** Seconds advertised in Retry-After on an LRO response of this provider (retry-after.ts). */
  retryAfterSeconds(namespace: string, phase: 'initial' | 'poll'): number;
  signal: AbortSignal;
}

export const OPERATION_API_VERSION = '2024-07-01';

export class OperationRunner {
  private readonly operations = new Map<string, AsyncOperation>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly ctx: OperationRunnerContext) {}

  start(params: StartOperation): AsyncOperation {
    const op: AsyncOperation = {
      id: randomUUID(),
      sub: params.sub,
      namespace: params.namespace,
      location: params.location || 'local',
      kind: params.kind,
      resourceName: params.resourceName,
      status: 'InProgress',
      startTime: new Date().toISOString(),
    };
    this.operations.set(op.id, op);
    // The fault is chosen now so that "the next matching operation" is deterministic.
    const fault = this.ctx.faults.takeOperationFault(params.kind, params.resourceName);
    const task = this.run(op, params, fault).finally(() => this.running.delete(task));
    this.running.add(task);
    return op;
  }

  get(id: string): AsyncOperation | undefined {
    return this.operations.get(id);
  }

  /** Headers of the initial LRO response (`phase` 'poll': of a Location URL answering 202). */
  headers(op: AsyncOperation, withLocation: boolean, phase: 'initial' | 'poll' = 'initial'): Record<string, string> {
    const base = `${this.ctx.endpoint()}/subscriptions/${op.sub}/providers/${op.namespace}/locations/${op.location}`;
    const headers: Record<string, string> = {
      'azure-asyncoperation': `${base}/operations/${op.id}?api-version=${OPERATION_API_VERSION}`,
    };
    if (withLocation) headers['location'] = `${base}/operationResults/${op.id}?api-version=${OPERATION_API_VERSION}`;
    headers['retry-after'] = String(this.ctx.retryAfterSeconds(op.namespace, phase));
    return headers;
  }

  /** The Retry-After of a poll answer while the operation runs. */
  pollRetryAfter(op: AsyncOperation): string {
    return String(this.ctx.retryAfterSeconds(op.namespace, 'poll'));
  }

  /** Resolves when every started operation has settled (used by stop()). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async run(op: AsyncOperation, params: StartOperation, fault: { code: string; message: string } | undefined): Promise<void> {
    try {
      await sleep(this.ctx.latencyOf(op.kind), this.ctx.signal);
      if (fault) throw new ArmError(409, fault.code, fault.message);
      await params.work();
      op.status = 'Succeeded';
    } catch (err) {
      if (this.ctx.signal.aborted) return; // emulator stopped: leave the operation where it was
      const error =
        err instanceof ArmError
          ? { code: err.code, message: err.message }
          : { code: 'InternalOperationError', message: err instanceof Error ? err.message : String(err) };
      op.status = 'Failed';
      op.error = error;
      params.onFailed(error);
    } finally {
      op.endTime = new Date().toISOString();
    }
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Error('ARM emulator stopped'));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('ARM emulator stopped'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
