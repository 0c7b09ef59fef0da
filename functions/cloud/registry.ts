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
  /**
   * Every registered container of the service (replicas, and both sides of a move while it runs).
   * The single-endpoint fields above stay those of one of them, for clients that read one address.
   */
  instances?: RegistryInstance[];
}

/** One container of a service, as the registry lists it. */
export interface RegistryInstance {
  vm: string;
  container: string;
  replica: number;
  host: string;
  port: number;
  status: ServiceStatus;
  imageTag: string;
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
      // The instance the single-endpoint fields name follows them (a restart's status, a new start time).
      if (next.instances && !changes.instances) {
        next.instances = next.instances.map((i) =>
          i.vm === next.vm && i.port === next.port ? { ...i, status: next.status, host: next.host, ...(next.startedAt !== undefined && { startedAt: next.startedAt }) } : i,
        );
      }
      return { ...next, id: service };
    });
    return toEntry(doc!);
  }

  /**
   * Registers (or refreshes) one container of `service` and points the single-endpoint fields at a
   * running instance (the one they named, while it is listed and running). Etag-checked.
   */
  async registerInstance(
    service: string,
    kind: RegistryEntry['kind'],
    instance: RegistryInstance,
    options: { at?: string } = {},
  ): Promise<RegistryEntry> {
    const at = options.at ?? new Date().toISOString();
    const { doc } = await readModifyWrite<RegistryDocument>(this.ctx, 'registry', service, service, (stored) => {
      const current = stored && toEntry(stored);
      const others = instancesOf(current).filter((i) => !(i.vm === instance.vm && i.container === instance.container));
      const instances = sortInstances([...others, instance]);
      const primary = primaryOf(current, instances);
      const next = complete(service, {
        ...current,
        kind,
        vm: primary.vm,
        host: primary.host,
        port: primary.port,
        imageTag: primary.imageTag,
        status: primary.status,
        ...(primary.startedAt !== undefined && { startedAt: primary.startedAt }),
        updatedAt: at,
        instances,
      });
      return { ...next, id: service };
    });
    return toEntry(doc!);
  }

  /**
   * Takes one container out of the registry (drain: clients stop finding it before it stops). The
   * last one removes the entry. Returns whether it was listed.
   */
  async deregisterInstance(service: string, vm: string, container: string, options: { at?: string } = {}): Promise<boolean> {
    const at = options.at ?? new Date().toISOString();
    let listed = false;
    let empty = false;
    await readModifyWrite<RegistryDocument>(this.ctx, 'registry', service, service, (stored) => {
      if (!stored) return undefined;
      const current = toEntry(stored);
      const all = instancesOf(current);
      const instances = all.filter((i) => !(i.vm === vm && i.container === container));
      listed = instances.length < all.length;
      empty = instances.length === 0;
      if (!listed || empty) return undefined;
      const primary = primaryOf({ ...current, instances }, instances);
      return { ...complete(service, { ...current, vm: primary.vm, host: primary.host, port: primary.port, imageTag: primary.imageTag, status: primary.status, updatedAt: at, instances }), id: service };
    });
    if (listed && empty) await this.deleteEntry(service);
    return listed;
  }

  /** Removes the entry of a service that is no longer desired (absent: nothing to do). */
  async deleteEntry(service: string): Promise<void> {
    try {
      await this.ctx.container('registry').item(service, service).delete();
    } catch (err) {
      if ((err as { code?: unknown })?.code === 404) return;
      throw cosmosFailure('removing the registry entry', service, err);
    }
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

/** The instances of an entry; an entry written before instances existed is its one endpoint. */
export function instancesOf(entry: RegistryEntry | undefined): RegistryInstance[] {
  if (!entry) return [];
  if (entry.instances) return entry.instances;
  return [{ vm: entry.vm, container: entry.service, replica: 0, host: entry.host, port: entry.port, status: entry.status, imageTag: entry.imageTag, ...(entry.startedAt !== undefined && { startedAt: entry.startedAt }) }];
}

function sortInstances(instances: RegistryInstance[]): RegistryInstance[] {
  return [...instances].sort((a, b) => a.replica - b.replica || (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0));
}

/** The instance the single-endpoint fields show: the current one while it runs, else the first running, else the first. */
function primaryOf(current: RegistryEntry | undefined, instances: RegistryInstance[]): RegistryInstance {
  const same = current && instances.find((i) => i.vm === current.vm && i.port === current.port && i.status === 'running');
  return same ?? instances.find((i) => i.status === 'running') ?? instances[0]!;
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
    ...(fields.instances !== undefined && { instances: fields.instances }),
  };
}

function toEntry(doc: RegistryEntry & { id?: string }): RegistryEntry {
  const { id: _id, ...entry } = doc;
  return entry;
}
