/**
 * The adapters activities and HTTP functions use, built once per process from app settings. Azure
 * and the local emulators differ here only in the endpoints and credentials the settings name.
 */
import { CentralDb, createCosmosClient } from './cloud/central-db.js';
import { CodeShare } from './cloud/code-share.js';
import { ComputeAdapter, createComputeClients } from './cloud/compute.js';
import { azureCredential, staticTokenCredential } from './cloud/credentials.js';
import { DockerHost } from './cloud/docker-host.js';
import { publicKeyOf, readSecretSetting } from './cloud/secrets.js';
import { SshHost } from './cloud/ssh.js';
import type { VmAccess } from './activities/contracts.js';
import { readSettings, type LcmSettings } from './settings.js';

let settingsCache: LcmSettings | undefined;
let dbPromise: Promise<CentralDb> | undefined;
const computeCache = new Map<string, ComputeAdapter>();
let codeShareCache: CodeShare | undefined;

export function settings(): LcmSettings {
  return (settingsCache ??= readSettings());
}

/** The central database, its schema ensured once per process. */
export function centralDb(): Promise<CentralDb> {
  dbPromise ??= (async () => {
    const s = settings();
    const key = s.cosmosKeySetting ? readSecretSetting(s.cosmosKeySetting, 'the Cosmos DB account key') : undefined;
    const client = createCosmosClient({
      endpoint: s.cosmosEndpoint,
      key,
      credential: key ? undefined : azureCredential(),
      caCert: s.caCert,
    });
    const db = new CentralDb(client, { databaseId: s.cosmosDatabase });
    await db.ensureSchema();
    return db;
  })().catch((e) => {
    dbPromise = undefined; // let the next call try again
    throw e;
  });
  return dbPromise;
}

export function compute(subscriptionId: string): ComputeAdapter {
  let adapter = computeCache.get(subscriptionId);
  if (!adapter) {
    const s = settings();
    const credential = s.armStaticToken ? staticTokenCredential(s.armStaticToken) : azureCredential();
    adapter = new ComputeAdapter({
      clients: createComputeClients({ subscriptionId, credential, endpoint: s.armEndpoint, caCert: s.caCert }),
      pollIntervalInMs: s.armPollIntervalInMs,
    });
    computeCache.set(subscriptionId, adapter);
  }
  return adapter;
}

export function codeShare(): CodeShare {
  const s = settings();
  return (codeShareCache ??= CodeShare.fromSetting(s.storageConnectionSetting, s.codeShare));
}

/** The public key a VM is created with, derived from the private key its spec references. */
export function vmPublicKey(sshKeySecret: string): string {
  return publicKeyOf(readSecretSetting(sshKeySecret, 'the SSH private key of the VMs'), sshKeySecret);
}

/** Runs `work` with an SSH session (and its Docker) on a VM; the session ends afterwards. */
export async function withVm<T>(vm: VmAccess, work: (docker: DockerHost, ssh: SshHost) => Promise<T>): Promise<T> {
  const db = await centralDb();
  const ssh = new SshHost(
    {
      vm: vm.name,
      host: vm.host,
      port: settings().sshPort,
      username: vm.adminUser,
      privateKey: readSecretSetting(vm.sshKeySecret, 'the SSH private key of the VMs'),
    },
    { pins: db.hostKeyPins(), maxAttempts: 6, retryDelayInMs: 1_000 },
  );
  try {
    return await work(new DockerHost(ssh), ssh);
  } finally {
    ssh.dispose();
  }
}

/** Tests and the local host restart with new settings in one process. */
export function resetDeps(): void {
  settingsCache = undefined;
  dbPromise = undefined;
  computeCache.clear();
  codeShareCache = undefined;
}
