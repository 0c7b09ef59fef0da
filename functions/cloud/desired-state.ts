/**
 * Desired state in the central database: the whole topology as one document (kind `topology`),
 * versioned. Every change is an etag-checked read-modify-write, so concurrent changes all land.
 */
import type { Topology, VmSpec } from '../platform/topology.js';
import { CentralDbError, cosmosFailure, readModifyWrite, statusOf, withoutSystemFields, type StoreContext } from './cosmos-common.js';

const TOPOLOGY_ID = 'topology';
const TOPOLOGY_KIND = 'topology';

interface TopologyDocument {
  id: string;
  kind: string;
  version: number;
  updatedAt: string;
  topology: Topology;
}

export interface DesiredTopology {
  topology: Topology;
  /** Increases by one on every change; unchanged by an identical write. */
  version: number;
  updatedAt: string;
}

/** The desired state with the etag a conditional write must present (Cosmos's `_etag`, unquoted). */
export interface DesiredWithEtag extends DesiredTopology {
  etag: string;
}

export type ConditionalWrite =
  | { outcome: 'written' | 'unchanged'; current: DesiredWithEtag }
  /** The etag presented is not the stored one (someone wrote first): nothing was written. */
  | { outcome: 'stale'; current: DesiredWithEtag | undefined };

/** An etag as HTTP carries it (`"x"`, `W/"x"`) or as Cosmos stores it (`"x"`), without quotes. */
export function bareEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export class DesiredState {
  constructor(private readonly ctx: StoreContext) {}

  /** Stores the topology as the CLI seeds it. Writing an identical topology changes nothing. */
  async writeTopology(topology: Topology, options: { at?: string } = {}): Promise<{ version: number; changed: boolean }> {
    const at = options.at ?? new Date().toISOString();
    const wanted = canonical(topology);
    const { doc, written } = await readModifyWrite<TopologyDocument>(this.ctx, 'desired', TOPOLOGY_ID, TOPOLOGY_KIND, (current) => {
      if (current && canonical(current.topology) === wanted) return undefined;
      return { id: TOPOLOGY_ID, kind: TOPOLOGY_KIND, version: (current?.version ?? 0) + 1, updatedAt: at, topology };
    });
    return { version: doc!.version, changed: written };
  }

  async readTopology(): Promise<Topology | undefined> {
    return (await this.readDesired())?.topology;
  }

  async readDesired(): Promise<DesiredTopology | undefined> {
    const { doc } = await readModifyWrite<TopologyDocument>(this.ctx, 'desired', TOPOLOGY_ID, TOPOLOGY_KIND, () => undefined);
    return doc && { topology: doc.topology, version: doc.version, updatedAt: doc.updatedAt };
  }

  /** The stored desired state and its etag (undefined when nothing is seeded). */
  async readWithEtag(): Promise<DesiredWithEtag | undefined> {
    const raw = await this.readRaw();
    if (!raw) return undefined;
    const { rawEtag: _raw, ...out } = raw;
    return out;
  }

  private async readRaw(): Promise<(DesiredWithEtag & { rawEtag: string }) | undefined> {
    try {
      const { resource } = await this.ctx.container('desired').item(TOPOLOGY_ID, TOPOLOGY_KIND).read<TopologyDocument & { _etag: string }>();
      return resource && withEtag(resource);
    } catch (err) {
      throw cosmosFailure('reading the desired state', TOPOLOGY_ID, err);
    }
  }

  /**
   * Replaces the topology if the stored document still has `ifMatch` as its etag (a compare and
   * swap: Cosmos checks the etag on the replace itself). A stale etag is refused even when the
   * topology is the same as the stored one; the current etag with an identical topology writes nothing.
   */
  async writeIfMatch(topology: Topology, ifMatch: string, options: { at?: string } = {}): Promise<ConditionalWrite> {
    const container = this.ctx.container('desired');
    const raw = await this.readRaw();
    const current = raw && { topology: raw.topology, version: raw.version, updatedAt: raw.updatedAt, etag: raw.etag };
    if (!raw || !current || current.etag !== bareEtag(ifMatch)) return { outcome: 'stale', current };
    if (canonical(current.topology) === canonical(topology)) return { outcome: 'unchanged', current };
    const next: TopologyDocument = {
      id: TOPOLOGY_ID,
      kind: TOPOLOGY_KIND,
      version: current.version + 1,
      updatedAt: options.at ?? new Date().toISOString(),
      topology,
    };
    try {
      const { resource } = await container.item(TOPOLOGY_ID, TOPOLOGY_KIND).replace<TopologyDocument>(next, {
        accessCondition: { type: 'IfMatch', condition: raw.rawEtag },
      });
      const { rawEtag: _raw, ...written } = withEtag(resource as TopologyDocument & { _etag: string });
      return { outcome: 'written', current: written };
    } catch (err) {
      if (statusOf(err) === 412) return { outcome: 'stale', current: await this.readWithEtag() };
      throw cosmosFailure('writing the desired state', TOPOLOGY_ID, err);
    }
  }

  /**
   * Changes one service of the stored topology (read-modify-write, retried on conflicts). `change`
   * returns the new topology, or undefined to leave it; it may throw to refuse.
   */
  async updateTopology(change: (topology: Topology) => Topology | undefined, options: { at?: string } = {}): Promise<{ version: number; changed: boolean; topology: Topology }> {
    const at = options.at ?? new Date().toISOString();
    const { doc, written } = await readModifyWrite<TopologyDocument>(this.ctx, 'desired', TOPOLOGY_ID, TOPOLOGY_KIND, (current) => {
      if (!current) throw new CentralDbError('topology-missing', 'no topology is stored in the central database. Seed it first (bootstrap-cli deploy).');
      const topology = change(current.topology);
      if (!topology || canonical(topology) === canonical(current.topology)) return undefined;
      return { ...current, version: current.version + 1, updatedAt: at, topology };
    });
    return { version: doc!.version, changed: written, topology: doc!.topology };
  }

  /**
   * Adds one VM to the stored topology. A name already present is refused with
   * CentralDbError('duplicate-vm'); with no topology stored, CentralDbError('topology-missing').
   */
  async addVm(vm: VmSpec, options: { at?: string } = {}): Promise<{ version: number }> {
    const at = options.at ?? new Date().toISOString();
    const { doc } = await readModifyWrite<TopologyDocument>(this.ctx, 'desired', TOPOLOGY_ID, TOPOLOGY_KIND, (current) => {
      if (!current) {
        throw new CentralDbError(
          'topology-missing',
          `cannot add VM "${vm.name}": no topology is stored in the central database. Seed it first (bootstrap-cli deploy).`,
        );
      }
      if (current.topology.vms.some((existing) => existing.name === vm.name)) {
        throw new CentralDbError('duplicate-vm', `VM "${vm.name}" already exists in the topology; choose another name.`);
      }
      const topology = { ...current.topology, vms: [...current.topology.vms, vm] };
      return { ...current, version: current.version + 1, updatedAt: at, topology };
    });
    return { version: doc!.version };
  }
}

function withEtag(doc: TopologyDocument & { _etag: string }): DesiredWithEtag & { rawEtag: string } {
  const plain = withoutSystemFields(doc);
  return { topology: plain.topology, version: plain.version, updatedAt: plain.updatedAt, etag: bareEtag(doc._etag), rawEtag: doc._etag };
}

/** JSON with sorted keys: equal topologies compare equal whatever order the store returns keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
