/**
 * What the LCM last saw of each VM (addresses, power state, Docker ready), one document per VM, so
 * `GET /api/vms` answers from the database instead of calling ARM.
 */
import { cosmosFailure, readModifyWrite, withoutSystemFields, type StoreContext } from './cosmos-common.js';

export interface VmRecord {
  name: string;
  publicIp?: string;
  privateIp?: string;
  powerState: string;
  dockerReady: boolean;
  updatedAt: string;
}

export class VmRecords {
  constructor(private readonly ctx: StoreContext) {}

  async upsert(record: VmRecord): Promise<VmRecord> {
    const { doc } = await readModifyWrite<VmRecord & { id: string }>(this.ctx, 'vms', record.name, record.name, (current) => ({
      ...current,
      ...record,
      id: record.name,
    }));
    const { id: _id, ...out } = doc!;
    return out;
  }

  async list(): Promise<VmRecord[]> {
    try {
      const { resources } = await this.ctx.container('vms').items.query<VmRecord & { id: string }>('SELECT * FROM c').fetchAll();
      return resources
        .map((doc) => {
          const { id: _id, ...out } = withoutSystemFields(doc);
          return out;
        })
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (err) {
      throw cosmosFailure('listing VM records', 'vms', err);
    }
  }
}
