/**
 * locateService (what the watchdog checks each round) over the real central database adapter
 * against @vercel/cosmosdb-server: every started replica where the registry has it now (the desired
 * places while none is registered), each with its VM's recorded addresses.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { startLocalIdentity, type LocalIdentity } from '../../../local/azure/identity.js';
import { generateLocalTls } from '../../../local/azure/tls.js';
import { locateService } from '../../../functions/activities/records.js';
import { centralDb } from '../../../functions/deps.js';
import { CONTAINERS, type CentralDb } from '../../../functions/cloud/central-db.js';
import { assertTopology } from '../../../functions/platform/validate.js';
import { twoVmDocument } from '../../helpers/reconcile-state.js';

let identity: LocalIdentity;
let emulator: CosmosEmulator;
let db: CentralDb;
const saved = { ...process.env };
const at = '2026-01-01T00:00:00.000Z';
const ip = { 'vm-a': ['20.0.0.10', '10.1.0.10'], 'vm-b': ['20.0.0.11', '10.1.0.11'] } as const;

beforeAll(async () => {
  // As on Azure: local auth off, the app reaches Cosmos with its managed identity over TLS.
  identity = await startLocalIdentity();
  const tls = generateLocalTls();
  emulator = await startCosmosEmulator({ tls, identity, localAuthDisabled: true });
  const database = `lcm-${randomUUID().slice(0, 8)}`;
  await emulator.provision({ database, containers: Object.values(CONTAINERS) });
  // The activity reads its database from the app settings, as on Azure.
  Object.assign(process.env, { LCM_COSMOS_ENDPOINT: emulator.endpoint, LCM_COSMOS_DATABASE: database, LCM_CA_CERT: tls.cert }, identity.managedIdentitySettings('66666666-7777-8888-9999-000000000000'));
  db = await centralDb();
  const d = twoVmDocument();
  d.services[0].replicas = 3;
  d.services[0].vms = ['vm-a', 'vm-b'];
  await db.writeTopology(assertTopology(d), { at });
  await db.upsertVm({ name: 'vm-a', publicIp: ip['vm-a'][0], privateIp: ip['vm-a'][1], powerState: 'running', dockerReady: true, updatedAt: at });
});
afterAll(async () => {
  process.env = saved;
  await emulator?.stop();
  await identity?.stop();
});

const places = async (service: string) => {
  const where = await locateService({ service });
  if (where.state !== 'found') return where;
  return { port: where.service.port, vm: where.vm.name, replicas: where.replicas!.map((r) => `${r.index} ${r.container}@${r.vm.name}(${r.vm.privateIp}):${r.port}`) };
};

describe('locateService', () => {
  it('lists only the replicas whose VM has an address; unknown while none has', async () => {
    expect(await places('api')).toEqual({ port: 8000, vm: 'vm-a', replicas: ['0 api@vm-a(10.1.0.10):8000', '2 api-r1@vm-a(10.1.0.10):8001'] });
    expect(await locateService({ service: 'shop' })).toEqual({ state: 'unknown', reason: 'VM "vm-b" has no recorded address yet' });
  });

  it('every replica where the registry has it: the port it is registered on, a moved one where it still serves', async () => {
    await db.upsertVm({ name: 'vm-b', publicIp: ip['vm-b'][0], privateIp: ip['vm-b'][1], powerState: 'running', dockerReady: true, updatedAt: at });
    const instance = (vm: 'vm-a' | 'vm-b', container: string, replica: number, port: number) => ({ vm, container, replica, host: ip[vm][1], port, status: 'running' as const, imageTag: 'v1' });
    await db.registerInstance('api', 'microservice', instance('vm-a', 'api', 0, 8000), { at });
    await db.registerInstance('api', 'microservice', instance('vm-b', 'api', 1, 8000), { at });
    await db.registerInstance('api', 'microservice', instance('vm-a', 'api-r1', 2, 8011), { at });
    expect(await places('api')).toEqual({ port: 8000, vm: 'vm-a', replicas: ['0 api@vm-a(10.1.0.10):8000', '1 api@vm-b(10.1.0.11):8000', '2 api-r1@vm-a(10.1.0.10):8011'] });
    // shop belongs on vm-b; the registry still has it on vm-a (a move not switched yet).
    await db.registerInstance('shop', 'app', instance('vm-a', 'shop', 0, 8090), { at });
    expect(await places('shop')).toEqual({ port: 8090, vm: 'vm-a', replicas: ['0 shop@vm-a(10.1.0.10):8090'] });
  });

  it('a replica the registry does not list yet (a scale-up under way) is not watched: restarting it would race its start', async () => {
    const d = twoVmDocument();
    d.services[0].replicas = 4;
    d.services[0].vms = ['vm-a', 'vm-b'];
    await db.writeTopology(assertTopology(d), { at });
    expect((await places('api')) as { replicas: string[] }).toMatchObject({ replicas: ['0 api@vm-a(10.1.0.10):8000', '1 api@vm-b(10.1.0.11):8000', '2 api-r1@vm-a(10.1.0.10):8011'] });
  });

  it('removed when the desired state no longer has the service', async () => {
    expect(await locateService({ service: 'gone' })).toEqual({ state: 'removed', reason: '"gone" is not in the desired state' });
  });
});
