/**
 * The adapters activities and HTTP functions use, built once per process from app settings. Azure
 * and the local emulators differ here only in the endpoints and credentials the settings name.
 */
import { CentralDb, createCosmosClient } from './cloud/central-db.js';
import { CodeShare } from './cloud/code-share.js';
import { DEFAULT_ARM_LIMITS } from './cloud/arm-rate-limit.js';
import { ComputeAdapter, createComputeClients } from './cloud/compute.js';
import { azureCredential, staticTokenCredential } from './cloud/credentials.js';
import { DockerHost } from './cloud/docker-host.js';
import { deriveHostKey, hostKeyCustomData } from './cloud/host-keys.js';
import { publicKeyOf, readSecretSetting } from './cloud/secrets.js';
import { SshHost, SshPool } from './cloud/ssh.js';
import type { VmAccess } from './activities/contracts.js';
import { readSettings, type LcmSettings } from './settings.js';

/**
 * Adapters are cached per configuration, not per process: the local host may load the app again in
 * one process with other settings (tests run several platforms), and must not get stale clients.
 */
const cache = new Map<string, unknown>();
function cached<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

export function settings(): LcmSettings {
  return readSettings();
}

/** The central database, its schema ensured once per configuration. */
export function centralDb(): Promise<CentralDb> {
  const s = settings();
  const key = `db|${s.cosmosEndpoint}|${s.cosmosDatabase}`;
  return cached(key, () =>
    (async () => {
      // Entra tokens only: the account has local auth off, so there is no key to hold.
      const client = createCosmosClient({ endpoint: s.cosmosEndpoint, credential: azureCredential(), caCert: s.caCert });
      const db = new CentralDb(client, { databaseId: s.cosmosDatabase });
      await db.ensureSchema();
      return db;
    })().catch((e) => {
      cache.delete(key); // let the next call try again
      throw e;
    }),
  );
}

export function compute(subscriptionId: string): ComputeAdapter {
  const s = settings();
  return cached(`arm|${subscriptionId}|${s.armEndpoint ?? ''}|${s.armStaticToken ?? ''}|${s.armReadsPerSecond}|${s.armWritesPerSecond}`, () => {
    const credential = s.armStaticToken ? staticTokenCredential(s.armStaticToken) : azureCredential();
    return new ComputeAdapter({
      clients: createComputeClients({
        subscriptionId,
        credential,
        endpoint: s.armEndpoint,
        caCert: s.caCert,
        rateLimits: { ...DEFAULT_ARM_LIMITS, readsPerSecond: s.armReadsPerSecond, writesPerSecond: s.armWritesPerSecond },
      }),
      pollIntervalInMs: s.armPollIntervalInMs,
    });
  });
}

export function codeShare(): CodeShare {
  const s = settings();
  const connection = process.env[s.storageConnectionSetting] ?? '';
  return cached(`share|${s.codeShare}|${connection}`, () => CodeShare.fromSetting(s.storageConnectionSetting, s.codeShare, process.env, { caCert: s.caCert }));
}

/** The public key a VM is created with, derived from the private key its spec references. */
export function vmPublicKey(sshKeySecret: string): string {
  return publicKeyOf(readSecretSetting(sshKeySecret, 'the SSH private key of the VMs'), sshKeySecret);
}

/**
 * The customData a VM is created with: its SSH host key, pinned before the VM exists, so the first
 * connection verifies. Built here, inside the activity: the private key never leaves it but to ARM.
 */
export async function vmHostKeyCustomData(vmName: string, options: { recreate: boolean }): Promise<string> {
  const setting = settings().hostKeySeedSetting;
  const seed = readSecretSetting(setting, "the secret the VMs' SSH host keys are derived from (random, at least 16 characters)");
  const db = await centralDb();
  const keyId = await db.pinCreatedHostKey(vmName, (id) => deriveHostKey(seed, vmName, id).fingerprint, { reuse: options.recreate });
  return hostKeyCustomData(deriveHostKey(seed, vmName, keyId));
}

/** Runs `work` with an SSH session (and its Docker) on a VM; the session ends afterwards. */
/**
 * SSH connections this worker keeps between activities (a handshake costs more than most commands).
 * Per process, like the Functions host's worker: each worker of a scaled-out app has its own.
 */
export const sshPool = new SshPool();

export async function withVm<T>(vm: VmAccess, work: (docker: DockerHost, ssh: SshHost) => Promise<T>): Promise<T> {
  const db = await centralDb();
  const ssh = new SshHost(
    {
      vm: vm.name,
      // With VNet integration the VMs' SSH accepts the VNet only: go to the private address.
      host: vmAddress(vm),
      port: settings().sshPort,
      username: vm.adminUser,
      privateKey: readSecretSetting(vm.sshKeySecret, 'the SSH private key of the VMs'),
    },
    { pins: db.hostKeyPins(), maxAttempts: settings().sshConnectAttempts, connectTimeoutInMs: settings().sshConnectTimeoutInMs, retryDelayInMs: 1_000, pool: sshPool },
  );
  try {
    return await work(new DockerHost(ssh), ssh);
  } finally {
    ssh.dispose();
  }
}

/** The address the function app reaches a VM at: private over VNet integration, else public. */
export function vmAddress(vm: Pick<VmAccess, 'host' | 'privateIp'>): string {
  return settings().vmPrivateNetwork ? vm.privateIp : vm.host;
}
