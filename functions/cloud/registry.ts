/**
 * The service registry: one document per service instance (id = service name), which the
 * platform's services read to find each other. Every write is an etag-checked read-modify-write
 * (re-read and re-apply on 412), so concurrent writers never lose an update.
 */
import type { ServiceKind } from '../platform/topology.js';
import { CentralDbError, cosmosFailure, readModifyWrite, withoutSystemFields, type StoreContext } from './cosmos-common.js';

export const SERVICE_STATUSES = ['starting', 'running', 'failed', 'stopped', 'unknown'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

export interface RegistryEntry {
  service: string;
  /** `broker` for the Kafka entry (service `kafka`). */
  kind: ServiceKind | 'broker';
  vm: string;
  host: string;
  port: number;
  imageTag: string;
  status: ServiceStatus;
  updatedAt: string;
  restartCount: number;
  lastRestartAt?: string;
  /** Restarts in the current back-off streak (see platform/backoff.ts). */
  restartStreak?: number;
  /** Identifies the last counted restart, so a retried activity does not count it twice. */
  lastRestartMarker?: string;
  startedAt?: string;
}

export type RegistryFields = Omit<RegistryEntry, 'service'>;
/** Computes fields from the entry as stored now (undefined when absent); runs again after a conflict. */
export type RegistryMutator = (current: RegistryEntry | undefined) => Partial<RegistryFields> | undefined;

interface RegistryDocument extends RegistryEntry {
  id: string;
}

export class Registry {
  constructor(private readonly ctx: StoreContext) {}

  async getEntry(service: string): Promise<RegistryEntry | undefined> {
    const { doc } = await readModifyWrite<RegistryDocument>(this.ctx, 'registry', service, service, () => undefined);
    return doc && toEntry(doc);
  }

  async listEntries(): Promise<RegistryEntry[]> {
    try {
      const { resources } = await this.ctx
        .container('registry')
        .items.query<RegistryDocument>('SELECT * FROM c')
        .fetchAll();
      return resources.map((doc) => toEntry(withoutSystemFields(doc))).sort((a, b) => (a.service < b.service ? -1 : 1));
    } catch (err) {
      throw cosmosFailure('listing the registry', 'registry', err);
    }
  }

  /**
   * Creates or updates the entry of `service`: `patch` first, then what `mutate` returns (given the
   * stored entry). A new entry needs kind, vm, host and port. `updatedAt` defaults to `at`.
   */
  async upsertEntry(
    service: string,
    patch: Partial<RegistryFields>,
    mutate?: RegistryMutator,
    options: { at?: string } = {},
  ): Promise<RegistryEntry> {
    const { doc } = await readModifyWrite<RegistryDocument>(this.ctx, 'registry', service, service, (stored) => {
      const current = stored && toEntry(stored);
      const changes = { ...patch, ...mutate?.(current) };
      const updatedAt = changes.updatedAt ?? options.at ?? new Date().toISOString();
      const next = complete(service, { ...current, ...changes, updatedAt });
      return { ...next, id: service };
    });
    return toEntry(doc!);
  }

  /** Counts one restart atomically (etag-checked): restartCount + 1, lastRestartAt = updatedAt = at. */
  async recordRestart(service: string, at: string): Promise<RegistryEntry> {
    const { doc } = await readModifyWrite<RegistryDocument>(this.ctx, 'registry', service, service, (stored) => {
      if (!stored) {
        throw new CentralDbError(
          'entry-missing',
          `cannot record a restart of "${service}": it has no registry entry. Start the service first.`,
        );
      }
      return { ...stored, restartCount: stored.restartCount + 1, lastRestartAt: at, updatedAt: at };
    });
    return toEntry(doc!);
  }
}

/** Checks a full entry: a new one must name where the service runs. */
function complete(service: string, fields: Partial<RegistryFields>): RegistryEntry {
  const missing = (['kind', 'vm', 'host', 'port'] as const).filter((field) => fields[field] === undefined);
  if (missing.length > 0) {
    throw new CentralDbError(
      'invalid-entry',
      `registry entry for "${service}" is missing ${missing.join(', ')}; the first write of an entry must give them.`,
    );
  }
  const status = fields.status ?? 'unknown';
  if (!SERVICE_STATUSES.includes(status)) {
    throw new CentralDbError('invalid-entry', `registry entry for "${service}": status "${status}" is not one of ${SERVICE_STATUSES.join(', ')}.`);
  }
  return {
    service,
    kind: fields.kind!,
    vm: fields.vm!,
    host: fields.host!,
    port: fields.port!,
    imageTag: fields.imageTag ?? '',
    status,
    updatedAt: fields.updatedAt!,
    restartCount: fields.restartCount ?? 0,
    ...(fields.lastRestartAt !== undefined && { lastRestartAt: fields.lastRestartAt }),
    ...(fields.restartStreak !== undefined && { restartStreak: fields.restartStreak }),
    ...(fields.lastRestartMarker !== undefined && { lastRestartMarker: fields.lastRestartMarker }),
    ...(fields.startedAt !== undefined && { startedAt: fields.startedAt }),
  };
}

function toEntry(doc: RegistryEntry & { id?: string }): RegistryEntry {
  const { id: _id, ...entry } = doc;
  return entry;
}
