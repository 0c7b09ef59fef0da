/**
 * The central database (Cosmos DB, database `lcm` by default): desired state, service registry,
 * audit events and SSH host-key pins, behind one object built from an injected CosmosClient.
 */
import { randomUUID } from 'node:crypto';
import { HostKeyMismatchError, HostKeyUnknownError } from './ssh.js';
import { VmRecords, type VmRecord } from './vm-records.js';
import type { Container, CosmosClient } from '@azure/cosmos';
import type { Topology, VmSpec } from '../platform/topology.js';
import {
  CentralDbError,
  CONTAINERS,
  cosmosFailure,
  statusOf,
  type CentralDbStats,
  type ConcurrencyOptions,
  type ContainerName,
  type StoreContext,
} from './cosmos-common.js';
import { DesiredState, type ConditionalWrite, type DesiredTopology, type DesiredWithEtag } from './desired-state.js';
import { EventLog, type EventInput, type EventQuery, type LcmEvent } from './events.js';
import { Registry, type RegistryEntry, type RegistryFields, type RegistryInstance, type RegistryMutator } from './registry.js';

export { createCosmosClient, CentralDbError, CONTAINERS, type CosmosConnection, type ConcurrencyOptions } from './cosmos-common.js';
export { bareEtag, type ConditionalWrite, type DesiredTopology, type DesiredWithEtag } from './desired-state.js';
export type { VmRecord } from './vm-records.js';
export { EVENT_TYPES, eventId, type EventInput, type EventQuery, type LcmEvent, type EventType } from './events.js';
export { SERVICE_STATUSES, instancesOf, type RegistryInstance, type RegistryEntry, type RegistryFields, type RegistryMutator, type ServiceStatus } from './registry.js';

export const DEFAULT_DATABASE_ID = 'lcm';

export interface CentralDbOptions extends ConcurrencyOptions {
  /** Default `lcm` (the topology's azure.cosmos.database). */
  databaseId?: string;
}

export interface HostKeyPin {
  vm: string;
  fingerprint: string;
  pinnedAt: string;
  /** The key id the LCM derived the VM's host key under when it created the VM (host-keys.ts). */
  keyId?: string;
}

/**
 * The stored document: a pin, or (after an operator's reset-host-key) a marker that lets the next
 * connection pin the key it is shown. No document: the VM's key is unknown and SSH refuses it.
 */
interface HostKeyDoc {
  id: string;
  vm: string;
  fingerprint?: string;
  pinnedAt?: string;
  keyId?: string;
  resetAt?: string;
  _etag?: string;
}

export type PinOutcome =
  | { outcome: 'pinned' | 'matched'; vm: string; pinned: string }
  | { outcome: 'mismatch'; vm: string; pinned: string; presented: string };

/** The SSH adapter's error: a conflicting pin is the same event as a host presenting another key. */
export { HostKeyMismatchError };

export class CentralDb {
  readonly databaseId: string;
  /** Etag conflicts met (and resolved or given up on) by this instance's read-modify-writes. */
  readonly stats: CentralDbStats = { etagConflicts: 0 };
  private readonly desired: DesiredState;
  private readonly registry: Registry;
  private readonly events: EventLog;
  private readonly vms: VmRecords;
  private readonly ctx: StoreContext;

  constructor(private readonly client: CosmosClient, options: CentralDbOptions = {}) {
    this.databaseId = options.databaseId ?? DEFAULT_DATABASE_ID;
    const database = client.database(this.databaseId);
    const containers = new Map<ContainerName, Container>();
    this.ctx = {
      container: (name) => {
        let container = containers.get(name);
        if (!container) containers.set(name, (container = database.container(CONTAINERS[name].id)));
        return container;
      },
      concurrency: { maxAttempts: options.maxAttempts ?? 60, onConflict: options.onConflict },
      stats: this.stats,
    };
    this.desired = new DesiredState(this.ctx);
    this.registry = new Registry(this.ctx);
    this.events = new EventLog(this.ctx);
    this.vms = new VmRecords(this.ctx);
  }

  /** Creates the database and its containers when missing; safe to call any number of times. */
  async ensureSchema(): Promise<void> {
    try {
      const { database } = await this.client.databases.createIfNotExists({ id: this.databaseId });
      for (const { id, partitionKey } of Object.values(CONTAINERS)) {
        await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
      }
    } catch (err) {
      // With Entra auth the data plane may not create databases or containers (403, substatus 5300).
      if (statusOf(err) === 403 && (err as { substatus?: number }).substatus === 5300) {
        throw new CentralDbError(
          'cosmos-failed',
          `central database: database "${this.databaseId}" or one of its containers (${Object.values(CONTAINERS).map((c) => c.id).join(', ')}) does not exist, ` +
            'and an Entra token may not create them: they come from the template (infra/lcm.json, sqlDatabases/containers); run bootstrap-cli deploy.',
          { cause: err },
        );
      }
      throw cosmosFailure('creating the schema', this.databaseId, err);
    }
  }

  // Desired state
  writeTopology(topology: Topology, options?: { at?: string }): Promise<{ version: number; changed: boolean }> {
    return this.desired.writeTopology(topology, options);
  }
  readTopology(): Promise<Topology | undefined> {
    return this.desired.readTopology();
  }
  readDesired(): Promise<DesiredTopology | undefined> {
    return this.desired.readDesired();
  }
  addVm(vm: VmSpec, options?: { at?: string }): Promise<{ version: number }> {
    return this.desired.addVm(vm, options);
  }
  readDesiredWithEtag(): Promise<DesiredWithEtag | undefined> {
    return this.desired.readWithEtag();
  }
  writeTopologyIfMatch(topology: Topology, ifMatch: string, options?: { at?: string }): Promise<ConditionalWrite> {
    return this.desired.writeIfMatch(topology, ifMatch, options);
  }
  updateTopology(change: (topology: Topology) => Topology | undefined, options?: { at?: string }): Promise<{ version: number; changed: boolean; topology: Topology }> {
    return this.desired.updateTopology(change, options);
  }

  // Registry
  getEntry(service: string): Promise<RegistryEntry | undefined> {
    return this.registry.getEntry(service);
  }
  listEntries(): Promise<RegistryEntry[]> {
    return this.registry.listEntries();
  }
  upsertEntry(
    service: string,
    patch: Partial<RegistryFields>,
    mutate?: RegistryMutator,
    options?: { at?: string },
  ): Promise<RegistryEntry> {
    return this.registry.upsertEntry(service, patch, mutate, options);
  }
  registerInstance(service: string, kind: RegistryEntry['kind'], instance: RegistryInstance, options?: { at?: string }): Promise<RegistryEntry> {
    return this.registry.registerInstance(service, kind, instance, options);
  }
  deregisterInstance(service: string, vm: string, container: string, options?: { at?: string }): Promise<boolean> {
    return this.registry.deregisterInstance(service, vm, container, options);
  }
  deleteEntry(service: string): Promise<void> {
    return this.registry.deleteEntry(service);
  }
  recordRestart(service: string, at: string): Promise<RegistryEntry> {
    return this.registry.recordRestart(service, at);
  }

  // VM records
  upsertVm(record: VmRecord): Promise<VmRecord> {
    return this.vms.upsert(record);
  }
  listVms(): Promise<VmRecord[]> {
    return this.vms.list();
  }

  // Events
  recordEvent(input: EventInput): Promise<{ id: string; created: boolean }> {
    return this.events.recordEvent(input);
  }
  listEvents(query?: EventQuery): Promise<LcmEvent[]> {
    return this.events.listEvents(query);
  }

  // Host-key pins: written when the LCM creates a VM (its key is derived, see host-keys.ts), or at
  // the first connection after an operator's reset-host-key.
  private async readHostKeyDoc(vm: string): Promise<HostKeyDoc | undefined> {
    try {
      const { resource } = await this.ctx.container('hostkeys').item(vm, vm).read<HostKeyDoc>();
      return resource ?? undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw cosmosFailure('reading the host-key pin', vm, err);
    }
  }

  async getHostKey(vm: string): Promise<HostKeyPin | undefined> {
    const doc = await this.readHostKeyDoc(vm);
    if (!doc?.fingerprint) return undefined;
    return { vm, fingerprint: doc.fingerprint, pinnedAt: doc.pinnedAt ?? '', ...(doc.keyId ? { keyId: doc.keyId } : {}) };
  }

  /**
   * Pins the host key of a VM about to be created and returns the key id it is derived under.
   * `fingerprintOf(keyId)` derives the fingerprint. `reuse`: the VM exists (a Failed one created
   * again keeps the customData it was created with), so the key id already pinned is kept. Two
   * concurrent creates agree on one key id: the pin is replaced with the etag read, and the loser
   * takes the winner's.
   */
  async pinCreatedHostKey(vm: string, fingerprintOf: (keyId: string) => string, options: { reuse?: boolean; at?: string } = {}): Promise<string> {
    const container = this.ctx.container('hostkeys');
    const current = await this.readHostKeyDoc(vm);
    if (options.reuse && current?.keyId && current.fingerprint) return current.keyId;
    const keyId = randomUUID();
    const doc: HostKeyDoc = { id: vm, vm, fingerprint: fingerprintOf(keyId), pinnedAt: options.at ?? new Date().toISOString(), keyId };
    try {
      if (current) await container.item(vm, vm).replace(doc, { accessCondition: { type: 'IfMatch', condition: current._etag! } });
      else await container.items.create(doc);
      return keyId;
    } catch (err) {
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 404) throw cosmosFailure('pinning the host key', vm, err);
    }
    const winner = await this.readHostKeyDoc(vm);
    if (winner?.keyId && winner.fingerprint) return winner.keyId;
    return this.pinCreatedHostKey(vm, fingerprintOf, options);
  }

  /**
   * Pins `fingerprint` where an operator's reset allows it (or nothing is stored: a caller that
   * wants trust on first use); otherwise reports whether it matches the pinned one.
   */
  async pinHostKey(vm: string, fingerprint: string, options: { at?: string } = {}): Promise<PinOutcome> {
    const container = this.ctx.container('hostkeys');
    const pin: HostKeyDoc = { id: vm, vm, fingerprint, pinnedAt: options.at ?? new Date().toISOString() };
    const existing = await this.readHostKeyDoc(vm);
    if (existing?.fingerprint) {
      return existing.fingerprint === fingerprint
        ? { outcome: 'matched', vm, pinned: fingerprint }
        : { outcome: 'mismatch', vm, pinned: existing.fingerprint, presented: fingerprint };
    }
    try {
      if (existing) await container.item(vm, vm).replace(pin, { accessCondition: { type: 'IfMatch', condition: existing._etag! } });
      else await container.items.create(pin);
      return { outcome: 'pinned', vm, pinned: fingerprint };
    } catch (err) {
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 404) throw cosmosFailure('pinning the host key', vm, err);
    }
    // Someone else pinned (or reset) meanwhile: decide against what is there now.
    return this.pinHostKey(vm, fingerprint, options);
  }

  /**
   * The pins as the SSH adapter wants them (functions/cloud/ssh.ts `HostKeyPins`): a VM with no
   * pin and no operator reset is refused before any connection (HostKeyUnknownError); after a
   * reset the next key shown is pinned; pinning a key other than the one pinned throws
   * HostKeyMismatchError.
   */
  hostKeyPins(): { getHostKey(vm: string): Promise<string | undefined>; pinHostKey(vm: string, fingerprint: string): Promise<void> } {
    return {
      getHostKey: async (vm) => {
        const doc = await this.readHostKeyDoc(vm);
        if (!doc) throw new HostKeyUnknownError(vm);
        return doc.fingerprint;
      },
      pinHostKey: async (vm, fingerprint) => {
        const result = await this.pinHostKey(vm, fingerprint);
        if (result.outcome === 'mismatch') throw new HostKeyMismatchError(vm, result.pinned, result.presented);
      },
    };
  }

  /**
   * An operator vouches for the VM's next key (a VM recreated outside the LCM): the pin is replaced
   * by a marker that lets the next connection pin what it is shown. Returns whether a pin was there.
   */
  async resetHostKey(vm: string, options: { at?: string } = {}): Promise<boolean> {
    const previous = await this.readHostKeyDoc(vm);
    try {
      await this.ctx.container('hostkeys').items.upsert<HostKeyDoc>({ id: vm, vm, resetAt: options.at ?? new Date().toISOString() });
    } catch (err) {
      throw cosmosFailure('resetting the host-key pin', vm, err);
    }
    return !!previous?.fingerprint;
  }
}
