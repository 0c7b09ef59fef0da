/**
 * Local Azure in one call: ARM (HTTPS), SSH-reachable VMs with a Docker stand-in, Cosmos DB (HTTPS),
 * Azure Files and Apache Kafka for the VMs' apache/kafka image, all on loopback. Returns the endpoints, the credentials the
 * LCM's adapters need (as app settings), the certificate to trust, a control surface for faults,
 * and a stop function that leaves no process or port behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSshKeyPair } from '../../functions/cloud/secrets.js';
import { LoopbackPool } from './addresses.js';
import { startArmEmulator, type ArmEmulator, type OperationKind } from './arm/index.js';
import { startCosmosEmulator, type CosmosEmulator } from './cosmos.js';
import { startFileShareEmulator, type FileShareEmulator } from './files/index.js';
import { ensureKafkaHome } from '../images/kafka/index.js';
import { kafkaProcessImage } from './kafka/process.js';
import { generateLocalTls } from './tls.js';
import { createVmFleet, type VmFleet } from './vm/index.js';

export interface LocalAzureOptions {
  /** Where sandboxes and the share live. Default: a new temporary directory, removed on stop. */
  rootDir?: string;
  /** SSH port of every emulated VM (each on its own loopback address). Default 2222. */
  sshPort?: number;
  /** How long ARM operations take, per kind (benchmarks inject realistic provisioning times). */
  armLatency?: Partial<Record<OperationKind, number>>;
  /** Docker restart-policy delays and stop grace on the VMs (tests keep them short). */
  restartDelayMs?: number;
  stopGraceMs?: number;
  /** Storage account name the File endpoint serves. */
  storageAccount?: string;
}

export interface LocalAzure {
  /** PEM certificate every HTTPS emulator serves: what clients trust. */
  caCert: string;
  arm: ArmEmulator;
  fleet: VmFleet;
  cosmos: CosmosEmulator;
  files: FileShareEmulator;
  /** The private key the emulated VMs accept (what VM_SSH_PRIVATE_KEY holds locally). */
  sshPrivateKey: string;
  /** App settings that point the LCM at these emulators. */
  settings(options: { codeShare: string; sshKeySetting?: string }): Record<string, string>;
  stop(): Promise<void>;
}

/** A fixed bearer token: the ARM emulator accepts any, the LCM sends this one locally. */
export const LOCAL_ARM_TOKEN = 'local-arm-emulator-token';

export async function startLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const ownRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'lcm-azure-')));
  const tls = generateLocalTls();
  const stops: Array<() => Promise<void>> = [];
  try {
    // Apache Kafka's own jars (from Maven Central, cached): the broker the example's image runs.
    const kafkaHome = await ensureKafkaHome();
    const fleet = createVmFleet({
      rootDir: join(rootDir, 'vms'),
      sshPort: options.sshPort,
      images: { 'apache/kafka': kafkaProcessImage({ kafkaHome, stateDir: join(rootDir, 'kafka') }) },
      restartDelayMs: options.restartDelayMs,
      stopGraceMs: options.stopGraceMs,
    });
    stops.push(() => fleet.stop());
    const arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks: fleet, latency: options.armLatency });
    stops.push(() => arm.stop());
    const cosmos = await startCosmosEmulator({ tls });
    stops.push(() => cosmos.stop());
    const files = await startFileShareEmulator({ rootDir: join(rootDir, 'files'), accountName: options.storageAccount ?? 'lcmlocal' });
    stops.push(() => files.stop());
    const keys = generateSshKeyPair();
    const sshPort = options.sshPort ?? 2222;
    // What ARM's listKeys hands out and what the emulated App Service gives a deployed function app:
    // the local services' real credentials, and local stand-ins for managed identity and the public CA.
    arm.bindLocalServices({
      storage: { accountName: files.accountName, accountKey: files.accountKey, fileEndpoint: files.endpoint },
      cosmos: { endpoint: cosmos.endpoint, key: cosmos.key },
      sitesDir: join(rootDir, 'sites'),
      platformSettings: {
        LCM_ARM_ENDPOINT: arm.endpoint,
        LCM_ARM_STATIC_TOKEN: LOCAL_ARM_TOKEN,
        LCM_ARM_POLL_INTERVAL_MS: '50',
        LCM_CA_CERT: tls.cert,
        LCM_SSH_PORT: String(sshPort),
        LCM_KAFKA_WAIT_MS: '120000',
      },
    });

    let stopped = false;
    return {
      caCert: tls.cert,
      arm,
      fleet,
      cosmos,
      files,
      sshPrivateKey: keys.private,
      settings: ({ codeShare, sshKeySetting = 'VM_SSH_PRIVATE_KEY' }) => ({
        LCM_ARM_ENDPOINT: arm.endpoint,
        LCM_ARM_STATIC_TOKEN: LOCAL_ARM_TOKEN,
        LCM_ARM_POLL_INTERVAL_MS: '50',
        LCM_COSMOS_ENDPOINT: cosmos.endpoint,
        LCM_COSMOS_KEY: cosmos.key,
        LCM_STORAGE_CONNECTION_STRING: files.connectionString,
        LCM_CODE_SHARE: codeShare,
        LCM_CA_CERT: tls.cert,
        LCM_SSH_PORT: String(sshPort),
        LCM_KAFKA_WAIT_MS: '120000',
        [sshKeySetting]: keys.private,
      }),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopAll(stops);
        if (ownRoot) await rm(rootDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll(stops);
    if (ownRoot) await rm(rootDir, { recursive: true, force: true });
    throw e;
  }
}

async function stopAll(stops: Array<() => Promise<void>>): Promise<void> {
  // Reverse order: ARM stops calling the fleet before the fleet goes.
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch {
      // Keep stopping the rest; a half-stopped emulator must not keep ports open.
    }
  }
}
