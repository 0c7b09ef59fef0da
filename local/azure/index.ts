/**
 * Local Azure in one call: ARM (HTTPS), VMs that are real Linux hosts (network namespaces with
 * OpenSSH and a Docker engine each), Cosmos DB (HTTPS), Azure Files and the images the VMs pull.
 * Returns the endpoints, the credentials the LCM's adapters need (as app settings), the
 * certificate to trust, a control surface for faults, and a stop function that leaves no
 * process, namespace, mount or port behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSshKeyPair } from '../../functions/cloud/secrets.js';
import { LOCAL_RETRY_AFTER_SCALE, startArmEmulator, type ArmEmulator, type OperationKind } from './arm/index.js';
import type { TokenCredential } from '@azure/core-auth';
import { startCosmosEmulator, type CosmosEmulator } from './cosmos.js';
import { sharedLocalIdentity, type LocalIdentity } from './identity.js';
import { startFileShareEmulator, type FileShareEmulator } from './files/index.js';
import { kafkaImage } from '../images/kafka/index.js';
import { generateLocalTls } from './tls.js';
import { createVmFleet, type ImageHook, type VmFleet } from './vm/index.js';

export interface LocalAzureOptions {
  /** Where VM disks and the share live. Default: a new temporary directory, removed on stop. */
  rootDir?: string;
  /** How long ARM operations take, per kind (benchmarks inject realistic provisioning times). */
  armLatency?: Partial<Record<OperationKind, number>>;
  /** Scale of the Retry-After the ARM emulator sends on long-running operations (default LOCAL_RETRY_AFTER_SCALE; 1 = Azure's values). */
  armRetryAfterScale?: number;
  /** Graceful VM power-off: how long each engine gets to stop its containers (tests keep it short). */
  stopGraceMs?: number;
  /**
   * Images the machine's registry serves besides node and debian, by repository. Default:
   * Apache Kafka as `apache/kafka:3.9.1` (local/images/kafka: Maven Central's jars on a Debian JRE).
   */
  images?: Record<string, ImageHook>;
  /** Progress lines (e.g. the one-off base image build). */
  log?: (line: string) => void;
  /** Storage account name the File endpoint serves. */
  storageAccount?: string;
}

export interface LocalAzure {
  /** PEM certificate every HTTPS emulator serves: what clients trust. */
  caCert: string;
  arm: ArmEmulator;
  fleet: VmFleet;
  /** Cosmos DB with local auth disabled, as infra/lcm.json creates it: Entra tokens only. */
  cosmos: CosmosEmulator;
  files: FileShareEmulator;
  /** The local Entra ID: it issues the tokens Cosmos accepts (managed identity, signed-in user). */
  identity: LocalIdentity;
  /** The signed-in user's credential (what `az login` gives bootstrap-cli): seeds Cosmos. */
  userCredential: TokenCredential;
  /** The signed-in user's object id (the `oid` of its tokens). */
  userPrincipalId: string;
  /** The managed identity of the LCM run by the local host (`settings()`). */
  appPrincipalId: string;
  /** The private key the local VMs accept (what VM_SSH_PRIVATE_KEY holds locally). */
  sshPrivateKey: string;
  /** The machine's address on the VM network: where VMs reach the host. */
  hostAddress: string;
  /**
   * Makes a loopback port of the host (e.g. the LCM API) reachable from the VMs at
   * hostAddress:port, as a public endpoint is on Azure; returns its URL base (http://host:port).
   */
  exposeToVms(port: number): Promise<string>;
  /** App settings that point the LCM at these emulators. */
  settings(options: { codeShare: string; sshKeySetting?: string }): Record<string, string>;
  stop(): Promise<void>;
}

/** Object ids of the local signed-in user and of the local host's function app identity. */
export const LOCAL_USER_PRINCIPAL_ID = '0c0a1000-0000-4000-8000-00000000a11e';
export const LOCAL_APP_PRINCIPAL_ID = '0c0a1000-0000-4000-8000-0000000000a9';

/** A fixed bearer token: the ARM emulator accepts any, the LCM sends this one locally. */
export const LOCAL_ARM_TOKEN = 'local-arm-emulator-token';

export async function startLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const ownRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'lcm-azure-')));
  const stops: Array<() => Promise<void>> = [];
  try {
    const fleet = createVmFleet({
      rootDir: join(rootDir, 'vms'),
      ...(ownRoot ? { ownedDir: rootDir } : {}),
      images: options.images ?? { 'apache/kafka': kafkaImage },
      stopGraceMs: options.stopGraceMs,
      log: options.log,
    });
    stops.push(() => fleet.stop());
    await fleet.start();
    // The certificate also names the address the VMs reach the host on (the File endpoint's).
    const tls = generateLocalTls({ ips: [fleet.hostAddress] });
    const arm = await startArmEmulator({ tls, pool: fleet, hooks: fleet, latency: options.armLatency, retryAfterScale: options.armRetryAfterScale ?? LOCAL_RETRY_AFTER_SCALE });
    stops.push(() => arm.stop());
    // One per process (see sharedLocalIdentity): local stacks started one after another share it.
    const identity = await sharedLocalIdentity();
    // As infra/lcm.json creates the account (disableLocalAuth): the LCM and the CLI use Entra tokens.
    const cosmos = await startCosmosEmulator({ tls, identity, localAuthDisabled: true });
    stops.push(() => cosmos.stop());
    // The VMs fetch service code from Files (curl on the VM): it listens where they reach the host,
    // over HTTPS only, as an account with secure transfer required (infra/lcm.json sets it).
    const files = await startFileShareEmulator({ rootDir: join(rootDir, 'files'), accountName: options.storageAccount ?? 'lcmlocal', host: fleet.hostAddress, tls });
    stops.push(() => files.stop());
    const keys = generateSshKeyPair();
    // The secret the LCM derives the VMs' SSH host keys from (a Key Vault secret on Azure).
    const hostKeySeed = randomBytes(32).toString('base64url');
    const sshPort = fleet.sshPort;
    const forwards = new Set<Server>();
    stops.push(async () => {
      for (const f of forwards) await closeForward(f);
    });
    // What ARM's listKeys hands out and what the emulated App Service gives a deployed function app:
    // the local services' real credentials, and local stand-ins for managed identity and the public CA.
    arm.bindLocalServices({
      storage: { accountName: files.accountName, accountKey: files.accountKey, fileEndpoint: files.endpoint },
      cosmos: { endpoint: cosmos.endpoint, key: cosmos.key, provision: (schema) => cosmos.provision(schema) },
      sitesDir: join(rootDir, 'sites'),
      // App Service's identity endpoint for each site's system-assigned identity.
      identitySettings: (principalId) => identity.managedIdentitySettings(principalId),
      platformSettings: {
        LCM_ARM_ENDPOINT: arm.endpoint,
        LCM_ARM_STATIC_TOKEN: LOCAL_ARM_TOKEN,
        LCM_ARM_POLL_INTERVAL_MS: '50',
        LCM_CA_CERT: tls.cert,
        LCM_SSH_PORT: String(sshPort),
      },
    });

    let stopped = false;
    return {
      caCert: tls.cert,
      arm,
      fleet,
      cosmos,
      files,
      identity,
      userCredential: identity.credential(LOCAL_USER_PRINCIPAL_ID),
      userPrincipalId: LOCAL_USER_PRINCIPAL_ID,
      appPrincipalId: LOCAL_APP_PRINCIPAL_ID,
      sshPrivateKey: keys.private,
      hostAddress: fleet.hostAddress,
      exposeToVms: async (port) => {
        const server = await forward(fleet.hostAddress, port);
        forwards.add(server);
        return `http://${fleet.hostAddress}:${port}`;
      },
      settings: ({ codeShare, sshKeySetting = 'VM_SSH_PRIVATE_KEY' }) => ({
        LCM_ARM_ENDPOINT: arm.endpoint,
        LCM_ARM_STATIC_TOKEN: LOCAL_ARM_TOKEN,
        LCM_ARM_POLL_INTERVAL_MS: '50',
        LCM_COSMOS_ENDPOINT: cosmos.endpoint,
        // No Cosmos key: the LCM's managed identity (DefaultAzureCredential -> App Service's
        // identity endpoint), as on Azure.
        ...identity.managedIdentitySettings(LOCAL_APP_PRINCIPAL_ID),
        LCM_STORAGE_CONNECTION_STRING: files.connectionString,
        LCM_CODE_SHARE: codeShare,
        LCM_CA_CERT: tls.cert,
        LCM_SSH_PORT: String(sshPort),
        // As on Azure (the template's VNet integration): the VMs' NSGs admit SSH and Kafka from the
        // VNet only, and the local network enforces them; the host sits in the VNet too.
        LCM_VM_PRIVATE_NETWORK: 'true',
        LCM_HOST_KEY_SEED: hostKeySeed,
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

const sockets = new WeakMap<Server, Set<Socket>>();

/** A TCP forwarder host:port -> 127.0.0.1:port. */
function forward(host: string, port: number): Promise<Server> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port });
    open.add(inbound).add(outbound);
    const done = () => {
      inbound.destroy();
      outbound.destroy();
      open.delete(inbound);
      open.delete(outbound);
    };
    inbound.on('error', done).on('close', done);
    outbound.on('error', done).on('close', done);
    inbound.pipe(outbound).pipe(inbound);
  });
  sockets.set(server, open);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function closeForward(server: Server): Promise<void> {
  for (const s of sockets.get(server) ?? []) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
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
