/**
 * A whole local LCM for end-to-end tests: the one local stack of `bootstrap-cli deploy --local`
 * (local Azure with real VMs, the example platform seeded, the local host running
 * functions/index.ts), with a host the test controls (in process, or a child it can SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CentralDb } from '../../functions/cloud/central-db.js';
import { loadTopology } from '../../functions/platform/load.js';
import type { Topology } from '../../functions/platform/topology.js';
import type { LocalAzure, LocalAzureOptions } from '../../local/azure/index.js';
import { startLocalHost, type LocalHost } from '../../local/host/index.js';
import { pickFreePort, prepareLocalPlatform } from '../../bootstrap-cli/local-deployment.js';
import { roleFunctionKeys } from '../../functions/http/roles.js';
import { EXAMPLE_TOPOLOGY } from './topology.js';
import { hang } from './hang-guard.js';

export const freePort = pickFreePort;

export const APP_ENTRY = new URL('../../functions/index.ts', import.meta.url).pathname;

export interface TestPlatform {
  azure: LocalAzure;
  host: LocalHost;
  db: CentralDb;
  topology: Topology;
  /** The operators' key (a host key: every route). */
  key: string;
  /** The monitoring service's key: function-specific, on the registry and restart functions only. */
  monitoringKey: string;
  serviceKey: string;
  /** The app settings the host runs with, secret values included (tests scan for them). */
  settings: Record<string, string>;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** POSTs and follows the operation until it ends; returns its final status body. */
  run(path: string, body?: unknown, timeoutInMs?: number): Promise<any>;
  stop(): Promise<void>;
}

/** Secrets a topology references get random local values (a real deployment holds them in Key Vault). */
export function localSecretValues(topology: Topology): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of topology.services) for (const setting of Object.values(s.secretEnv)) out[setting] = randomBytes(18).toString('base64url');
  return out;
}

export interface PlatformOptions {
  topology?: Topology;
  codeRoot?: string;
  azure?: LocalAzureOptions;
  storeFile?: string;
  /** App settings to set on the host (knobs such as timeouts; never endpoints or credentials). */
  settings?: Record<string, string>;
  /** Receives every line the host logs (default: dropped). */
  hostLog?: (line: string) => void;
  /** Worker processes of the local host (default 1). */
  workers?: number;
}

/** Everything but the host: emulators and VMs running, the platform seeded, the host's settings ready. */
export interface PreparedPlatform {
  azure: LocalAzure;
  db: CentralDb;
  topology: Topology;
  settings: Record<string, string>;
  key: string;
  monitoringKey: string;
  serviceKey: string;
  port: number;
  storeFile: string;
  /** Stops the emulators and VMs and removes the store when this helper made it. */
  stop(): Promise<void>;
}

/** The one local stack's first half (bootstrap-cli/local-deployment.ts), with the tests' defaults. */
export async function preparePlatform(options: PlatformOptions = {}): Promise<PreparedPlatform> {
  const topology = options.topology ?? loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));
  const codeRoot = options.codeRoot ?? join(dirname(EXAMPLE_TOPOLOGY), 'services');
  const key = randomBytes(16).toString('hex');
  const prepared = await prepareLocalPlatform({
    topology,
    codeRoot,
    port: 0,
    apiKey: key,
    env: {},
    storeFile: options.storeFile,
    azure: { stopGraceMs: 1_000, ...options.azure },
  });
  return { azure: prepared.azure, db: prepared.db, topology, settings: { ...prepared.settings, ...options.settings }, key, monitoringKey: prepared.monitoringKey, serviceKey: prepared.serviceKey, port: prepared.port, storeFile: prepared.storeFile, stop: prepared.stop };
}

export async function startTestPlatform(options: PlatformOptions = {}): Promise<TestPlatform> {
  const prepared = await preparePlatform(options);
  const { azure, db, topology, settings, key, monitoringKey, serviceKey, port, storeFile } = prepared;
  const host = await startLocalHost({
    entry: APP_ENTRY,
    port,
    storeFile,
    settings,
    workers: options.workers,
    functionKeys: [key],
    functionSecrets: roleFunctionKeys({ monitoring: monitoringKey, service: serviceKey }),
    log: options.hostLog ?? (() => {}),
  });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${host.baseUrl}/api/${path}`, { ...init, headers: { 'x-functions-key': key, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return {
    azure,
    host,
    db,
    topology,
    key,
    monitoringKey,
    serviceKey,
    settings,
    api,
    // A boot of the full example starts a JVM: minutes when the machine runs other tests too.
    async run(path, body, timeoutInMs = hang(300_000)) {
      const res = await api(path, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status !== 202) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      const done = await host.waitForInstance(id, { timeoutInMs });
      return done;
    },
    async stop() {
      await host.stop();
      await prepared.stop();
    },
  };
}

/** The local host as a real process on a prepared platform, so a test can SIGKILL it. */
export async function spawnHost(prepared: PreparedPlatform): Promise<{ proc: ChildProcess; baseUrl: string }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('../../local/host/main.ts', import.meta.url).pathname, '--entry', APP_ENTRY, '--store', prepared.storeFile, '--port', String(prepared.port), '--key', prepared.key,
      ...Object.entries(roleFunctionKeys({ monitoring: prepared.monitoringKey, service: prepared.serviceKey })).flatMap(([fn, keys]) => Object.entries(keys).flatMap(([name, value]) => ['--function-key', `${fn}/${name}=${value}`]))],
    { env: { ...process.env, ...prepared.settings }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Kept (the last few KB) so a host that dies before listening says why.
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const m = /^listening (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`host exited with ${code} before listening:\n${stderr}`)));
  });
  return { proc, baseUrl };
}
