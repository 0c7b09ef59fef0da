/**
 * The central database adapter against @vercel/cosmosdb-server through the real @azure/cosmos
 * client (plain http). Each test uses its own database, so tests do not see each other's data.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CosmosClient } from '@azure/cosmos';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { CentralDb, CentralDbError, createCosmosClient, CONTAINERS, HostKeyMismatchError } from '../../../functions/cloud/central-db.js';
import { HostKeyUnknownError, type HostKeyPins } from '../../../functions/cloud/ssh.js';
import { topologySchema, type VmSpec } from '../../../functions/platform/topology.js';
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

async function freshDb(options: ConstructorParameters<typeof CentralDb>[1] = {}): Promise<CentralDb> {
  const db = new CentralDb(client, { databaseId: `lcm-${randomUUID().slice(0, 8)}`, ...options });
  await db.ensureSchema();
  return db;
}

const topology = () => topologySchema.parse(minimalDocument());
const vm = (name: string): VmSpec => ({
  name,
  size: 'Standard_B2s',
  image: { publisher: 'Canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  adminUser: 'azureuser',
  sshKeySecret: 'VM_KEY',
});
const at = (second: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString();

describe('schema', () => {
  it('creates the database and every container, and a second ensureSchema changes nothing', async () => {
    const db = await freshDb();
    await db.ensureSchema();
    const { resources } = await client.database(db.databaseId).containers.readAll().fetchAll();
    expect(resources.map((c) => c.id).sort()).toEqual(Object.values(CONTAINERS).map((c) => c.id).sort());
    for (const container of resources) {
      const expected = Object.values(CONTAINERS).find((c) => c.id === container.id)!;
      expect(container.partitionKey?.paths).toEqual([expected.partitionKey]);
    }
  });
});

describe('desired state', () => {
  it('reads back the topology it wrote; an identical write keeps the version, a change bumps it', async () => {
    const db = await freshDb();
    expect(await db.readTopology()).toBeUndefined();
    const first = await db.writeTopology(topology(), { at: at(1) });
    expect(first).toEqual({ version: 1, changed: true });
    expect(await db.readTopology()).toEqual(topology());

    expect(await db.writeTopology(topology(), { at: at(2) })).toEqual({ version: 1, changed: false });
    const changed = { ...topology(), services: topology().services.slice(0, 1) };
    expect(await db.writeTopology(changed, { at: at(3) })).toEqual({ version: 2, changed: true });
    expect(await db.readDesired()).toEqual({ topology: changed, version: 2, updatedAt: at(3) });
  });

  it('lands ten concurrent VM additions, each bumping the version once', async () => {
    const conflicts: string[] = [];
    const db = await freshDb({ onConflict: ({ id }) => conflicts.push(id) });
    await db.writeTopology(topology(), { at: at(0) });
    const names = Array.from({ length: 10 }, (_, i) => `vm-extra-${i}`);
    await Promise.all(names.map((name, i) => db.addVm(vm(name), { at: at(i + 1) })));
    const desired = await db.readDesired();
    expect(desired!.topology.vms.map((v) => v.name).sort()).toEqual(['vm-a', ...names].sort());
    expect(desired!.version).toBe(11);
    expect(conflicts.length).toBe(db.stats.etagConflicts);
  });

  it('refuses a VM whose name is taken, with a typed error, and leaves the topology as it was', async () => {
    const db = await freshDb();
    await db.writeTopology(topology(), { at: at(0) });
    const error = await db.addVm(vm('vm-a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CentralDbError);
    expect((error as CentralDbError).code).toBe('duplicate-vm');
    expect((error as Error).message).toContain('"vm-a"');
    expect((await db.readDesired())!.version).toBe(1);
  });

  it('refuses to add a VM when no topology is stored', async () => {
    const db = await freshDb();
    await expect(db.addVm(vm('vm-b'))).rejects.toMatchObject({ code: 'topology-missing' });
  });
});

describe('registry', () => {
  const base = { kind: 'microservice' as const, vm: 'vm-a', host: '10.0.0.4', port: 8000, imageTag: 'api:v1' };

  it('creates, updates, reads and lists entries', async () => {
    const db = await freshDb();
    expect(await db.getEntry('api')).toBeUndefined();
    const created = await db.upsertEntry('api', { ...base, status: 'starting' }, undefined, { at: at(1) });
    expect(created).toEqual({ service: 'api', ...base, status: 'starting', updatedAt: at(1), restartCount: 0 });

    const running = await db.upsertEntry('api', { status: 'running', startedAt: at(2) }, undefined, { at: at(2) });
    expect(running).toMatchObject({ ...base, status: 'running', startedAt: at(2), updatedAt: at(2) });
    await db.upsertEntry('kafka', { kind: 'broker', vm: 'vm-a', host: '10.0.0.4', port: 9092, status: 'running' }, undefined, { at: at(3) });

    expect(await db.getEntry('api')).toEqual(running);
    const list = await db.listEntries();
    expect(list.map((e) => e.service)).toEqual(['api', 'kafka']);
    expect(list[1]).toMatchObject({ kind: 'broker', port: 9092, restartCount: 0 });
    // No Cosmos system properties leak into what callers get.
    expect(Object.keys(list[0]!).filter((k) => k.startsWith('_') || k === 'id')).toEqual([]);
  });

  it('refuses a first write that does not say where the service runs', async () => {
    const db = await freshDb();
    await expect(db.upsertEntry('web', { status: 'starting' })).rejects.toMatchObject({ code: 'invalid-entry' });
    expect(await db.getEntry('web')).toBeUndefined();
  });

  it('counts 20 concurrent restarts exactly, resolving the etag conflicts they cause', async () => {
    let conflictCallbacks = 0;
    const db = await freshDb({ onConflict: () => conflictCallbacks++ });
    await db.upsertEntry('api', { ...base, status: 'running' }, undefined, { at: at(0) });
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.recordRestart('api', at(i + 1))));
    const entry = await db.getEntry('api');
    expect(entry!.restartCount).toBe(20);
    expect(entry!.lastRestartAt).toMatch(/^2025-01-01T00:00:/);
    // The 412s happened and were retried, not avoided.
    expect(db.stats.etagConflicts).toBeGreaterThan(0);
    expect(conflictCallbacks).toBe(db.stats.etagConflicts);
  });

  it('keeps both of two concurrent writers\' changes to different fields', async () => {
    const db = await freshDb();
    await db.upsertEntry('api', { ...base, status: 'starting' }, undefined, { at: at(0) });
    const writers = Array.from({ length: 10 }, (_, i) =>
      i % 2 === 0
        ? db.upsertEntry('api', {}, (current) => ({ imageTag: `${current!.imageTag}+${i}` }), { at: at(i + 1) })
        : db.upsertEntry('api', {}, (current) => ({ port: current!.port + 1 }), { at: at(i + 1) }),
    );
    await Promise.all(writers);
    const entry = await db.getEntry('api');
    expect(entry!.port).toBe(8005);
    expect(entry!.imageTag.split('+').slice(1).sort()).toEqual(['0', '2', '4', '6', '8']);
  });

  it('gives up after the bounded number of attempts, without losing or inventing an update', async () => {
    const db = await freshDb({ maxAttempts: 1 });
    await db.upsertEntry('api', { ...base, status: 'running' }, undefined, { at: at(0) });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => db.recordRestart('api', at(i + 1))));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'concurrency-exhausted' });
    expect((await db.getEntry('api'))!.restartCount).toBe(results.length - refused.length);
  });

  it('refuses to count a restart of a service that has no entry', async () => {
    const db = await freshDb();
    await expect(db.recordRestart('ghost', at(1))).rejects.toMatchObject({ code: 'entry-missing' });
  });
});

describe('events', () => {
  it('lists newest first, filtered by target, time and limit', async () => {
    const db = await freshDb();
    const events = [
      { target: 'vm-a', targetKind: 'vm', type: 'provision', outcome: 'started', at: at(1) },
      { target: 'api', targetKind: 'service', type: 'start', outcome: 'succeeded', at: at(2) },
      { target: 'vm-a', targetKind: 'vm', type: 'provision', outcome: 'succeeded', at: at(3) },
      { target: 'api', targetKind: 'service', type: 'failure', outcome: 'failed', at: at(4), reason: 'health check failed' },
      { target: 'api', targetKind: 'service', type: 'restart', outcome: 'succeeded', at: at(5), requestedBy: 'monitoring' },
    ] as const;
    for (const event of events) await db.recordEvent({ ...event, operationId: `op-${event.at}` });

    expect((await db.listEvents()).map((e) => e.at)).toEqual([at(5), at(4), at(3), at(2), at(1)]);
    const api = await db.listEvents({ target: 'api' });
    expect(api.map((e) => e.type)).toEqual(['restart', 'failure', 'start']);
    expect(api[1]).toMatchObject({ reason: 'health check failed', targetKind: 'service', outcome: 'failed' });
    expect((await db.listEvents({ since: at(3) })).map((e) => e.at)).toEqual([at(5), at(4), at(3)]);
    expect((await db.listEvents({ target: 'api', limit: 2 })).map((e) => e.at)).toEqual([at(5), at(4)]);
  });

  it('writes one event when an activity records the same operation step twice', async () => {
    const db = await freshDb();
    const event = { target: 'api', targetKind: 'service', type: 'restart', outcome: 'succeeded', operationId: 'svc-api:1', at: at(1) } as const;
    const first = await db.recordEvent(event);
    const second = await db.recordEvent({ ...event, at: at(9) });
    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, created: false });
    const failed = await db.recordEvent({ ...event, outcome: 'failed' });
    expect(failed.id).not.toBe(first.id);
    const stored = await db.listEvents({ target: 'api' });
    expect(stored).toHaveLength(2);
    expect(stored.find((e) => e.id === first.id)!.at).toBe(at(1));
  });
});

describe('host-key pins', () => {
  it('pins on first use, matches the same key, reports a different one, and forgets on reset', async () => {
    const db = await freshDb();
    expect(await db.getHostKey('vm-a')).toBeUndefined();
    expect(await db.pinHostKey('vm-a', 'SHA256:first', { at: at(1) })).toEqual({ outcome: 'pinned', vm: 'vm-a', pinned: 'SHA256:first' });
    expect(await db.pinHostKey('vm-a', 'SHA256:first')).toEqual({ outcome: 'matched', vm: 'vm-a', pinned: 'SHA256:first' });
    const mismatch = await db.pinHostKey('vm-a', 'SHA256:other');
    expect(mismatch).toEqual({ outcome: 'mismatch', vm: 'vm-a', pinned: 'SHA256:first', presented: 'SHA256:other' });
    const error = new HostKeyMismatchError('vm-a', 'SHA256:first', 'SHA256:other');
    expect(error.code).toBe('host-key-mismatch');
    expect(error.message).toContain('vm-a');
    // The mismatch did not overwrite the pin.
    expect(await db.getHostKey('vm-a')).toEqual({ vm: 'vm-a', fingerprint: 'SHA256:first', pinnedAt: at(1) });

    expect(await db.resetHostKey('vm-a')).toBe(true);
    expect(await db.resetHostKey('vm-a')).toBe(false);
    expect((await db.pinHostKey('vm-a', 'SHA256:other')).outcome).toBe('pinned');
  });

  it('serves the SSH adapter\'s pin interface: strings, a refusal of an unknown VM, and a throw on a conflicting pin', async () => {
    const db = await freshDb();
    const pins: HostKeyPins = db.hostKeyPins();
    // Nothing pinned and no operator reset: there is nothing to verify the VM against.
    const unknown = await pins.getHostKey('vm-b').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(HostKeyUnknownError);
    expect((unknown as Error).message).toContain('bootstrap-cli reset-host-key vm-b');
    // After an operator's reset the next key shown is pinned.
    expect(await db.resetHostKey('vm-b')).toBe(false);
    expect(await pins.getHostKey('vm-b')).toBeUndefined();
    await pins.pinHostKey('vm-b', 'SHA256:one');
    await pins.pinHostKey('vm-b', 'SHA256:one');
    expect(await pins.getHostKey('vm-b')).toBe('SHA256:one');
    const error = await pins.pinHostKey('vm-b', 'SHA256:two').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyMismatchError);
    expect(error).toMatchObject({ code: 'host-key-mismatch', vm: 'vm-b', pinned: 'SHA256:one', presented: 'SHA256:two' });
    expect(await pins.getHostKey('vm-b')).toBe('SHA256:one');
  });

  it('pins a created VM\'s derived key before it exists: a new key id per creation, the same one for a re-create, one winner among concurrent creates', async () => {
    const db = await freshDb();
    const derive = (id: string) => `SHA256:${id}`;
    const first = await db.pinCreatedHostKey('vm-c', derive);
    expect(await db.getHostKey('vm-c')).toMatchObject({ vm: 'vm-c', fingerprint: `SHA256:${first}`, keyId: first });
    expect(await db.hostKeyPins().getHostKey('vm-c')).toBe(`SHA256:${first}`);
    // A Failed VM created again keeps its customData: same key id.
    expect(await db.pinCreatedHostKey('vm-c', derive, { reuse: true })).toBe(first);
    // A VM created anew (the old one was deleted) gets a fresh key, pinned over the old one.
    const second = await db.pinCreatedHostKey('vm-c', derive);
    expect(second).not.toBe(first);
    expect((await db.getHostKey('vm-c'))?.fingerprint).toBe(`SHA256:${second}`);
    // Concurrent creates of one VM agree on one key (the pin the VM is created with).
    const raced = await Promise.all([1, 2, 3, 4].map(() => db.pinCreatedHostKey('vm-d', derive)));
    expect(new Set(raced).size).toBe(1);
    expect((await db.getHostKey('vm-d'))?.fingerprint).toBe(`SHA256:${raced[0]}`);
  });
});
