/**
 * The audit trail: provisions, boots, restarts, failures, per target, with the operation
 * (orchestration instance) id. With an operationId the event id is derived from
 * operationId+type+target+outcome, so an activity that runs twice records one event.
 */
import { createHash, randomUUID } from 'node:crypto';
import { cosmosFailure, statusOf, withoutSystemFields, type StoreContext } from './cosmos-common.js';

export const EVENT_TYPES = [
  'provision',
  'boot',
  'init',
  'deploy',
  'start',
  'restart',
  'backoff',
  'stop',
  'delete',
  'failure',
  'health',
  'host-key',
  'topology',
  'kafka',
  'watchdog',
  'reconcile',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type EventTargetKind = 'vm' | 'service' | 'platform';
export type EventOutcome = 'started' | 'succeeded' | 'failed';

export interface EventInput {
  /** VM or service name, or the platform name. */
  target: string;
  targetKind: EventTargetKind;
  type: EventType;
  outcome: EventOutcome;
  /** ISO time, given by the caller (an activity passes the orchestration's time). */
  at: string;
  /** The orchestration instance id; makes the event id deterministic. */
  operationId?: string;
  reason?: string;
  requestedBy?: string;
  /** Small, secret-free facts (ids, counts, addresses). */
  details?: Record<string, unknown>;
  /** An explicit id, overriding the derived one. */
  id?: string;
}

export interface LcmEvent extends EventInput {
  id: string;
}

export interface EventQuery {
  target?: string;
  /** Default 100. */
  limit?: number;
  /** Only events at or after this ISO time. */
  since?: string;
}

/** The id an event with an operationId gets: the same inputs give the same id. */
export function eventId(input: Pick<EventInput, 'operationId' | 'type' | 'target' | 'outcome'>): string | undefined {
  if (!input.operationId) return undefined;
  return createHash('sha256')
    .update([input.operationId, input.type, input.target, input.outcome].join('\u0000'))
    .digest('hex')
    .slice(0, 40);
}

export class EventLog {
  constructor(private readonly ctx: StoreContext) {}

  /** Records an event once; `created` is false when an event with its id was already there. */
  async recordEvent(input: EventInput): Promise<{ id: string; created: boolean }> {
    const id = input.id ?? eventId(input) ?? randomUUID();
    const event: LcmEvent = { ...input, id };
    try {
      await this.ctx.container('events').items.create(event);
      return { id, created: true };
    } catch (err) {
      if (statusOf(err) === 409) return { id, created: false };
      throw cosmosFailure(`recording a ${input.type} event`, input.target, err);
    }
  }

  /** Newest first. */
  async listEvents(query: EventQuery = {}): Promise<LcmEvent[]> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 1000));
    const filters: string[] = [];
    const parameters: Array<{ name: string; value: string | number }> = [{ name: '@limit', value: limit }];
    if (query.target !== undefined) {
      filters.push('c.target = @target');
      parameters.push({ name: '@target', value: query.target });
    }
    if (query.since !== undefined) {
      filters.push('c.at >= @since');
      parameters.push({ name: '@since', value: query.since });
    }
    const where = filters.length ? ` WHERE ${filters.join(' AND ')}` : '';
    try {
      const { resources } = await this.ctx
        .container('events')
        .items.query<LcmEvent>(
          { query: `SELECT TOP @limit * FROM c${where} ORDER BY c.at DESC`, parameters },
          query.target !== undefined ? { partitionKey: query.target } : {},
        )
        .fetchAll();
      return resources.map((doc) => withoutSystemFields(doc));
    } catch (err) {
      throw cosmosFailure('listing events', query.target ?? 'all targets', err);
    }
  }
}
