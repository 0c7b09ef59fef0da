/**
 * The desired state's etag-checked replace and the registry's instances, against the Cosmos
 * emulator through the real client: a stale etag is refused even for identical content, concurrent
 * writers with one etag land exactly one write, draining the last instance removes the entry.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CosmosClient } from '@azure/cosmos';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { CentralDb, createCosmosClient } from '../../../functions/cloud/central-db.js';
import { topologySchema } from '../../../functions/platform/topology.js';
import { minimalDocument } from '../../helpers/topology.js';

let emulator: CosmosEmulator;
let client: CosmosClient;

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  client = createCosmosClient({ endpoint: emulator.endpoint, key: emulator.key });
});
afterAll(async () => {
  client?.dispose();
  await emulator?.stop();
});

async function freshDb(): Promise<CentralDb> {
  const db = new CentralDb(client, { databaseId: `lcm-${randomUUID().slice(0, 8)}` });
  await db.ensureSchema();
  return db;
}

const topology = () => topologySchema.parse(minimalDocument());
const withEnv = (value: string) => {
  const t = topology();
  t.services[0]!.env = { MODE: value };
  return t;
};

describe('desired state with an etag', () => {
  it('replaces with the current etag, refuses a stale one even when the content is the same as what was written in between', async () => {
    const db = await freshDb();
    await db.writeTopology(topology());
    const first = (await db.readDesiredWithEtag())!;
    expect(first.version).toBe(1);
    expect(first.etag).not.toMatch(/"/);

    const written = await db.writeTopologyIfMatch(withEnv('a'), `"${first.etag}"`);
    expect(written.outcome).toBe('written');
    expect(written.current!.version).toBe(2);
    expect(written.current!.etag).not.toBe(first.etag);

    // Same content as the write in between, but edited from version 1: refused, nothing written.
    const stale = await db.writeTopologyIfMatch(withEnv('a'), first.etag);
    expect(stale.outcome).toBe('stale');
    expect(stale.current!.version).toBe(2);
    const now = (await db.readDesiredWithEtag())!;
    expect(now.version).toBe(2);
    expect(now.etag).toBe(written.current!.etag);
  });

  it('an identical topology with the current etag writes nothing and keeps the etag', async () => {
    const db = await freshDb();
    await db.writeTopology(topology());
    const first = (await db.readDesiredWithEtag())!;
    const same = await db.writeTopologyIfMatch(topology(), first.etag);
    expect(same.outcome).toBe('unchanged');
    expect((await db.readDesiredWithEtag())!).toEqual(first);
  });

  it('of eight concurrent writers holding one etag, exactly one lands', async () => {
    const db = await freshDb();
    await db.writeTopology(topology());
    const { etag } = (await db.readDesiredWithEtag())!;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => db.writeTopologyIfMatch(withEnv(`w${i}`), etag)));
    expect(results.filter((r) => r.outcome === 'written')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'stale')).toHaveLength(7);
    const now = (await db.readDesiredWithEtag())!;
    expect(now.version).toBe(2);
    const winner = results.findIndex((r) => r.outcome === 'written');
    expect(now.topology.services[0]!.env).toEqual({ MODE: `w${winner}` });
  });

  it('refuses any etag when nothing is stored', async () => {
    const db = await freshDb();
    expect((await db.writeTopologyIfMatch(topology(), 'x')).outcome).toBe('stale');
    expect(await db.readDesiredWithEtag()).toBeUndefined();
  });
});

describe('registry instances', () => {
  const instance = (vm: string, container: string, replica: number, port: number) => ({ vm, container, replica, host: `10.0.0.${replica + 1}`, port, status: 'running' as const, imageTag: 'v1' });

  it('lists each registered container; draining one keeps the others and re-points the endpoint; the last removes the entry', async () => {
    const db = await freshDb();
    await db.registerInstance('api', 'microservice', instance('vm-a', 'api', 0, 8000));
    await db.registerInstance('api', 'microservice', instance('vm-a', 'api-r1', 1, 8001));
    let entry = (await db.getEntry('api'))!;
    expect(entry.instances!.map((i) => i.container)).toEqual(['api', 'api-r1']);
    expect([entry.vm, entry.port]).toEqual(['vm-a', 8000]);

    expect(await db.deregisterInstance('api', 'vm-a', 'api')).toBe(true);
    entry = (await db.getEntry('api'))!;
    expect(entry.instances!.map((i) => i.container)).toEqual(['api-r1']);
    expect(entry.port).toBe(8001);
    expect(await db.deregisterInstance('api', 'vm-a', 'api')).toBe(false);

    expect(await db.deregisterInstance('api', 'vm-a', 'api-r1')).toBe(true);
    expect(await db.getEntry('api')).toBeUndefined();
  });

  it('lands concurrent registrations of different replicas', async () => {
    const db = await freshDb();
    await Promise.all(Array.from({ length: 6 }, (_, i) => db.registerInstance('web', 'app', instance('vm-a', i === 0 ? 'web' : `web-r${i}`, i, 9000 + i))));
    expect((await db.getEntry('web'))!.instances!.map((i) => i.replica)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
