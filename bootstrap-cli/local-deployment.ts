/**
 * A whole local LCM in this process: the Azure emulators, the platform's code and topology seeded
 * into them, and the local host serving functions/index.ts on 127.0.0.1:<port>. What
 * `bootstrap-cli deploy --local` runs; tests start it the same way.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CentralDb, createCosmosClient } from '../functions/cloud/central-db.js';
import { CodeShare } from '../functions/cloud/code-share.js';
import type { Topology } from '../functions/platform/topology.js';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../local/azure/index.js';
import { startLocalHost, type LocalHost } from '../local/host/index.js';
import { CliError, EXIT } from './io.js';
import { seedPlatform, type SeedResult } from './seed.js';

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
}

export interface LocalDeployment {
  apiUrl: string;
  apiKey: string;
  azure: LocalAzure;
  host: LocalHost;
  seed: SeedResult;
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

/** A port nothing listens on now (for an API that must know its URL before it starts). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
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

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const { topology, codeRoot, apiKey } = options;
  const phase = options.onPhase ?? (() => {});
  await assertPortFree(options.port);

  // The emulators start empty every time, so the durable history starts empty too: a history
  // that outlived its emulators would resume operations against VMs that no longer exist.
  const stateDir = await mkdtemp(join(tmpdir(), 'lcm-deploy-'));
  const stops: Array<() => Promise<void>> = [async () => rm(stateDir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch {
        // Keep stopping the rest: nothing may stay behind.
      }
    }
  };
  try {
    phase('starting the local Azure emulators (ARM, VMs, Cosmos DB, Files, Kafka image)');
    const azure = await startLocalAzure({ restartDelayMs: 1_000, stopGraceMs: 2_000, ...options.azure });
    stops.push(() => azure.stop());

    // The platform's services call the API (monitoring restarts, registry look-ups): they are told
    // its address and the API key, as a deployed LCM tells them its public URL and monitoring key.
    const apiPort = options.port === 0 ? await freePort() : options.port;
    const apiSettings = { LCM_PUBLIC_API_URL: `http://127.0.0.1:${apiPort}`, LCM_MONITORING_API_KEY: apiKey };
    const secrets = localSecrets(topology, azure.sshPrivateKey, { ...(options.env ?? process.env), ...apiSettings });
    const base = azure.settings({ codeShare: topology.azure.storage.share });
    // The emulator's default key setting only stays when the topology refers to it and the env does not set it.
    delete base.VM_SSH_PRIVATE_KEY;
    const settings = { ...base, ...secrets, ...apiSettings };

    phase(`uploading service code from ${codeRoot} and writing the topology`);
    const cosmos = createCosmosClient({ endpoint: azure.cosmos.endpoint, key: azure.cosmos.key, caCert: azure.caCert });
    stops.push(async () => cosmos.dispose());
    const db = new CentralDb(cosmos, { databaseId: topology.azure.cosmos.database });
    const seed = await seedPlatform({
      topology,
      codeRoot,
      db,
      share: CodeShare.fromConnectionString(azure.files.connectionString, topology.azure.storage.share),
    });

    phase('starting the LCM function app on the local host');
    let host: LocalHost;
    try {
      host = await startLocalHost({
        entry: APP_ENTRY,
        port: apiPort,
        storeFile: join(stateDir, 'task-hub.sqlite'),
        settings,
        functionKeys: [apiKey],
        log: options.log ?? (() => {}),
      });
    } catch (e) {
      if (/EADDRINUSE/.test(String((e as Error & { cause?: unknown }).cause ?? e))) throw portBusy(options.port);
      throw e;
    }
    stops.push(() => host.stop());
    return {
      apiUrl: host.baseUrl,
      apiKey,
      azure,
      host,
      seed,
      generatedSecrets: Object.keys(secrets),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
