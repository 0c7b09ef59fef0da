/**
 * The one local stack: the Azure emulators and the local VMs, the platform's code and topology
 * seeded into them, and the local host serving functions/index.ts on 127.0.0.1:<port> (also
 * reachable from the VMs, as the function app's public URL is on Azure, so monitoring can call
 * it). What `bootstrap-cli deploy --local` runs; the tests and the bench start it the same way.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CentralDb, CONTAINERS, createCosmosClient } from '../functions/cloud/central-db.js';
import { CodeShare } from '../functions/cloud/code-share.js';
import type { Topology } from '../functions/platform/topology.js';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../local/azure/index.js';
import { startLocalHost, type LocalHost } from '../local/host/index.js';
import { checkHostSupport, HostSupportError } from '../local/azure/vm/index.js';
import { CliError, EXIT } from './io.js';
import { seedPlatform, type SeedResult } from './seed.js';
import { roleFunctionKeys } from '../functions/http/roles.js';
import { buildUi } from '../ui/build.js';

/** The function app the local host loads: the sources under tsx, the build under dist/. */
export const APP_ENTRY = fileURLToPath(new URL(`../functions/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export interface LocalDeploymentOptions {
  topology: Topology;
  /** Folder holding each service's code under its `source`. */
  codeRoot: string;
  /** API port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** The function key the API accepts. */
  apiKey: string;
  /** Values of app settings already set (the environment): secrets found here are not generated. */
  env?: NodeJS.ProcessEnv;
  azure?: LocalAzureOptions;
  /** Host log lines (function logs). Default: dropped. */
  log?: (line: string) => void;
  /** Progress of the setup, one line per phase. */
  onPhase?: (line: string) => void;
  /** The durable task hub's file. Default: a new one in a temporary directory, removed on stop. */
  storeFile?: string;
  /** Worker processes of the local host over the one task hub (default 1: the host's own process). */
  workers?: number;
  /** Values for settings, over the generated ones (tests). */
  settings?: Record<string, string>;
}

/** Everything but the host: emulators and VMs running, the platform seeded, the host's settings ready. */
export interface PreparedLocalPlatform {
  azure: LocalAzure;
  db: CentralDb;
  seed: SeedResult;
  /** The app settings the host runs with (secret values included: never print them). */
  settings: Record<string, string>;
  apiKey: string;
  /** The monitoring service's key: a function key of the registry and restart functions only. */
  monitoringKey: string;
  /** The key the other services read the registry with (registry functions only). */
  serviceKey: string;
  /** The API port (fixed before the host starts: the monitoring service is told the URL). */
  port: number;
  storeFile: string;
  generatedSecrets: string[];
  stop(): Promise<void>;
}

export interface LocalDeployment {
  apiUrl: string;
  apiKey: string;
  azure: LocalAzure;
  host: LocalHost;
  db: CentralDb;
  seed: SeedResult;
  /** The app settings the host runs with (secret values included: never print them). */
  settings: Record<string, string>;
  /** Names of the secret settings that got generated local values (never the values). */
  generatedSecrets: string[];
  stop(): Promise<void>;
}

/**
 * Local values for the secrets a topology references, for those the environment does not set:
 * each service's secretEnv settings get random values; each VM's sshKeySecret gets the key pair the
 * local VMs are created with (any valid key works: the emulated VMs authorize what ARM was given).
 */
export function localSecrets(topology: Topology, sshPrivateKey: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const unset = (name: string) => env[name] === undefined || env[name]!.trim() === '';
  for (const vm of topology.vms) if (unset(vm.sshKeySecret)) out[vm.sshKeySecret] = sshPrivateKey;
  for (const s of topology.services) for (const setting of Object.values(s.secretEnv)) if (unset(setting)) out[setting] ??= randomBytes(18).toString('base64url');
  return out;
}

/** Fails fast, before any emulator starts, when the API port is taken. */
export async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? portBusy(port)
          : new CliError(`cannot listen on ${host}:${port} (${e.code ?? e.message}): pick another port with --port N`, EXIT.failed),
      );
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function portBusy(port: number): CliError {
  return new CliError(
    `port ${port} on 127.0.0.1 is already in use (another \`bootstrap-cli deploy\`, or \`func start\`?): stop that process or pick another port with --port N`,
    EXIT.failed,
  );
}

/** A port on 127.0.0.1 that nothing listens on now. */
export async function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function stopAllOf(stops: Array<() => Promise<void>>): Promise<void> {
  for (const stop of stops.splice(0).reverse()) {
    try {
      await stop();
    } catch {
      // Keep stopping the rest: nothing may stay behind.
    }
  }
}

/** Starts the emulators and VMs and seeds the platform; the caller starts the host on `port`. */
export async function prepareLocalPlatform(options: Omit<LocalDeploymentOptions, 'log'>): Promise<PreparedLocalPlatform> {
  const { topology, codeRoot, apiKey } = options;
  const phase = options.onPhase ?? (() => {});
  // Before anything starts: the local VMs need root, namespaces and a few Debian packages.
  try {
    await checkHostSupport();
  } catch (e) {
    if (e instanceof HostSupportError) throw new CliError(e.message, EXIT.failed);
    throw e;
  }
  await assertPortFree(options.port);
  // The LCM serves the central UI from dist/www: built here (esbuild, well under a second) so a
  // fresh checkout needs no build step of its own.
  phase('building the central UI');
  await buildUi();
  // The emulators start empty every time, so the durable history starts empty too: a history
  // that outlived its emulators would resume operations against VMs that no longer exist.
  const stateDir = await mkdtemp(join(tmpdir(), 'lcm-deploy-'));
  const stops: Array<() => Promise<void>> = [async () => rm(stateDir, { recursive: true, force: true })];
  try {
    phase('starting the local Azure emulators and VM network (ARM, VMs, Cosmos DB, Files, image registry)');
    const azure = await startLocalAzure({ stopGraceMs: 2_000, log: phase, ...options.azure });
    stops.push(() => azure.stop());

    const secrets = localSecrets(topology, azure.sshPrivateKey, options.env ?? process.env);
    const base = azure.settings({ codeShare: topology.azure.storage.share });
    // The emulator's default key setting only stays when the topology refers to it and the env does not set it.
    delete base.VM_SSH_PRIVATE_KEY;
    const port = options.port === 0 ? await pickFreePort() : options.port;
    // The platform's services call the LCM API from their VMs (monitoring restarts, registry
    // look-ups): the URL they are given and the monitoring key, which opens the registry and the
    // restart routes only (as on Azure, a function key of those).
    const apiUrl = await azure.exposeToVms(port);
    const monitoringKey = randomBytes(18).toString('base64url');
    // Every other service's key reads the registry only.
    const serviceKey = randomBytes(18).toString('base64url');
    const settings = { ...base, ...secrets, LCM_PUBLIC_API_URL: apiUrl, LCM_MONITORING_API_KEY: monitoringKey, LCM_SERVICE_API_KEY: serviceKey, ...options.settings };

    phase(`uploading service code from ${codeRoot} and writing the topology`);
    // The database and its containers come from the control plane, as infra/lcm.json's
    // sqlDatabases/containers on Azure: Entra tokens may not create them.
    await azure.cosmos.provision({ database: topology.azure.cosmos.database, containers: Object.values(CONTAINERS) });
    // The signed-in user seeds (a Cosmos data role on Azure): the account takes no key.
    const cosmos = createCosmosClient({ endpoint: azure.cosmos.endpoint, credential: azure.userCredential, caCert: azure.caCert });
    stops.push(async () => cosmos.dispose());
    const db = new CentralDb(cosmos, { databaseId: topology.azure.cosmos.database });
    const seed = await seedPlatform({
      topology,
      codeRoot,
      db,
      share: CodeShare.fromConnectionString(azure.files.connectionString, topology.azure.storage.share, { caCert: azure.caCert }),
    });
    return {
      azure,
      db,
      seed,
      settings,
      apiKey,
      monitoringKey,
      serviceKey,
      port,
      storeFile: options.storeFile ?? join(stateDir, 'task-hub.sqlite'),
      generatedSecrets: Object.keys(secrets),
      stop: () => stopAllOf(stops),
    };
  } catch (e) {
    await stopAllOf(stops);
    throw e;
  }
}

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const phase = options.onPhase ?? (() => {});
  const prepared = await prepareLocalPlatform(options);
  const stops: Array<() => Promise<void>> = [() => prepared.stop()];
  try {
    phase('starting the LCM function app on the local host');
    let host: LocalHost;
    try {
      host = await startLocalHost({
        entry: APP_ENTRY,
        port: prepared.port,
        storeFile: prepared.storeFile,
        workers: options.workers,
        settings: prepared.settings,
        functionKeys: [options.apiKey],
        functionSecrets: roleFunctionKeys({ monitoring: prepared.monitoringKey, service: prepared.serviceKey }),
        log: options.log ?? (() => {}),
      });
    } catch (e) {
      if (/EADDRINUSE/.test(String((e as Error & { cause?: unknown }).cause ?? e))) throw portBusy(prepared.port);
      throw e;
    }
    stops.push(() => host.stop());
    return {
      apiUrl: host.baseUrl,
      apiKey: options.apiKey,
      azure: prepared.azure,
      host,
      db: prepared.db,
      seed: prepared.seed,
      settings: prepared.settings,
      generatedSecrets: prepared.generatedSecrets,
      stop: () => stopAllOf(stops),
    };
  } catch (e) {
    await stopAllOf(stops);
    throw e;
  }
}
