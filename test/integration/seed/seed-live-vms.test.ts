/**
 * A re-seed (`deploy` writing the topology again) never silently drops a VM the central database
 * has and that still runs (one added through POST /api/vms): it refuses, naming the VMs, and
 * changes nothing; with mergeVms it keeps them. Against the Cosmos and Files emulators.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralDb, createCosmosClient } from '../../../functions/cloud/central-db.js';
import { CodeShare } from '../../../functions/cloud/code-share.js';
import { topologySchema, type Topology } from '../../../functions/platform/topology.js';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { DroppedVmsError, seedPlatform } from '../../../bootstrap-cli/seed.js';
import { minimalDocument } from '../../helpers/topology.js';
import { startFilesFixture, type FilesFixture } from '../files/setup.js';
import { hang } from '../../helpers/hang-guard.js';

let cosmos: CosmosEmulator;
let files: FilesFixture;
let codeRoot: string;

beforeAll(async () => {
  cosmos = await startCosmosEmulator();
  files = await startFilesFixture();
  codeRoot = mkdtempSync(join(tmpdir(), 'lcm-seed-code-'));
  for (const source of ['api', 'web', 'kafka']) {
    mkdirSync(join(codeRoot, source));
    writeFileSync(join(codeRoot, source, 'Dockerfile'), 'FROM scratch\n');
  }
});
afterAll(async () => {
  await files?.close();
  await cosmos?.stop();
  if (codeRoot) rmSync(codeRoot, { recursive: true, force: true });
});

describe('seed: VMs added through the API', () => {
  it('refuses to drop a running VM the file does not list, names it, changes nothing; merges on request', async () => {
    const client = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key });
    const db = new CentralDb(client, { databaseId: 'seed-live' });
    const share = CodeShare.fromConnectionString(files.emulator.connectionString, 'code');
    const file: Topology = topologySchema.parse(minimalDocument());
    await seedPlatform({ topology: file, codeRoot, db, share });

    // What POST /api/vms leaves behind: the VM in the desired state and its record, running.
    const added = { ...file.vms[0]!, name: 'vm-added' };
    const stopped = { ...file.vms[0]!, name: 'vm-stopped' };
    await db.writeTopology({ ...file, vms: [...file.vms, added, stopped] });
    await db.upsertVm({ name: 'vm-added', publicIp: '20.0.0.9', privateIp: '10.0.0.9', powerState: 'running', dockerReady: true, updatedAt: new Date().toISOString() });
    await db.upsertVm({ name: 'vm-stopped', publicIp: '20.0.0.8', privateIp: '10.0.0.8', powerState: 'deallocated', dockerReady: true, updatedAt: new Date().toISOString() });
    const before = await db.readTopology();

    const refused = await seedPlatform({ topology: file, codeRoot, db, share }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(DroppedVmsError);
    expect((refused as DroppedVmsError).vms).toEqual(['vm-added']);
    expect((refused as Error).message).toMatch(/drops VM "vm-added" .*still run.*--merge-vms/);
    expect(await db.readTopology(), 'a refused seed changes nothing').toEqual(before);

    const merged = await seedPlatform({ topology: file, codeRoot, db, share, mergeVms: true });
    expect(merged.mergedVms).toEqual(['vm-added']);
    expect((await db.readTopology())!.vms.map((v) => v.name)).toEqual(['vm-a', 'vm-added']);
    client.dispose();
  }, hang(60_000));
});
