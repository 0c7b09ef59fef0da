/**
 * Desired state in the central database: the whole topology as one document (kind `topology`),
 * versioned. Every change is an etag-checked read-modify-write, so concurrent changes all land.
 */
import type { Topology, VmSpec } from '../platform/topology.js';
import { CentralDbError, readModifyWrite, type StoreContext } from './cosmos-common.js';

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

/** JSON with sorted keys: equal topologies compare equal whatever order the store returns keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
