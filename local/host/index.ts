/**
 * The local Functions + Durable Functions host: loads the registrations of an app entry module
 * (the same `functions/index.ts` Azure loads), serves its HTTP triggers on /api, and runs its
 * orchestrations and activities with history persisted in SQLite. A development and test runtime;
 * production is Azure Durable Functions.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEntry, setCoreLog } from './functions-core.js';
import { describe, toRegistration, type Registration, type RegistrationInfo } from './registry.js';
import { HistoryStore, type InstanceFilter } from './store.js';
import { DurableEngine } from './engine.js';
import { createHttpFront, listen } from './http-server.js';
import { buildClientData, type ClientData } from './client-data.js';
import { startWorkers, type WorkerPool, type WorkerStats } from './workers.js';
import { DEFAULT_MAX_QUEUE_POLL_MS, timeSpanMs } from './poll-backoff.js';
import type { OrchestrationStatus, StatusOptions, TimelineEntry } from './status.js';

export type { RegistrationInfo } from './registry.js';
export type { OrchestrationStatus, TimelineEntry, StatusOptions } from './status.js';
export type { InstanceFilter } from './store.js';
export type { WorkerStats } from './workers.js';
export { formatTimeline } from './status.js';

export interface LocalHostOptions {
  /** Path or file URL of the app module that registers functions (app.http, df.app.*). */
  entry: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** SQLite file of the task hub; ':memory:' for a throw-away store. */
  storeFile: string;
  /** Host keys: accepted on every authLevel function route. Default: one random key (see `functionKeys` on the result). */
  functionKeys?: string[];
  /** Function-specific keys (function name -> key name -> value): each valid on its own function only. */
  functionSecrets?: Record<string, Record<string, string>>;
  /** The master key (authLevel admin, the /admin key API). Default: random. */
  masterKey?: string;
  /** Key of the durable webhook URLs (`code=` in statusQueryGetUri...). Default: random. */
  systemKey?: string;
  /** Put into process.env before the entry is loaded (like local.settings.json Values). */
  settings?: Record<string, string>;
  /** Activities running at once across all instances. Default: the app's host.json
   * (extensions.durableTask.maxConcurrentActivityFunctions), else 16. */
  maxConcurrentActivities?: number;
  /** On continueAsNew, carry external events no wait consumed into the next execution. Default false. */
  preserveUnprocessedEvents?: boolean;
  /** Fail orchestrations that list already-scheduled tasks in a new Task.any/Task.all (default true; tests of the misbehaviour turn it off). */
  rejectRelisting?: boolean;
  /** Queue latency of every message, ms (default 0): what each dispatch costs on Azure Storage (benches). */
  dispatchLatencyMs?: number;
  /** Task hub name shown to durable clients. Default LcmTaskHub. */
  taskHub?: string;
  /** Log sink (one line per call). Default: stderr. */
  log?: (line: string) => void;
  /**
   * Worker processes running orchestrations and activities over the one task hub file, as an
   * Elastic Premium app scaled out to N instances (default 1: everything in this process). With
   * N > 1 this process serves HTTP (triggers and the durable client API) and N workers claim the
   * replays and work items under leases; `maxConcurrentActivities` is per worker, as on Azure.
   */
  workers?: number;
  /** Several workers: how long a claim holds without renewal, ms (default 30000, the Azure Storage backend's lease interval). */
  leaseMs?: number;
  /**
   * Several workers: the longest an idle worker waits between polls of the store, ms (the Azure
   * Storage backend's backoff, local/host/poll-backoff.ts). Default: the app's host.json
   * (extensions.durableTask.storageProvider.maxQueuePollingInterval), else 30 s as the extension.
   */
  pollMs?: number;
}

export interface LocalHost {
  /** http://HOST:PORT (no trailing slash); HTTP triggers live under `${baseUrl}/api/`. */
  baseUrl: string;
  port: number;
  registrations: RegistrationInfo[];
  functionKeys: string[];
  masterKey: string;
  systemKey: string;
  /** Function-specific keys as they stand (function name in lower case -> key name -> value). */
  functionSecrets(): Record<string, Record<string, string>>;
  /** Adds or replaces a function-specific key (what `PUT /admin/functions/{name}/keys/{key}` does). */
  setFunctionKey(functionName: string, keyName: string, value: string): void;
  /** The durable client binding data handed to HTTP starters. */
  clientData: ClientData;
  listInstances(filter?: InstanceFilter, opts?: StatusOptions): OrchestrationStatus[];
  getInstance(instanceId: string, opts?: StatusOptions): OrchestrationStatus | undefined;
  getTimeline(instanceId: string): TimelineEntry[] | undefined;
  waitForInstance(instanceId: string, opts?: { timeoutInMs?: number }): Promise<OrchestrationStatus>;
  /** Start an orchestration directly (same rules as the client's startNew). Returns the instance id. */
  startNew(name: string, opts?: { instanceId?: string; input?: unknown }): string;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): 'ok' | 'notFound' | 'gone';
  terminate(instanceId: string, reason?: string): 'ok' | 'notFound' | 'gone';
  /** The worker processes' ids when `workers` > 1 (empty: this process runs everything). */
  workerPids: number[];
  /** Per process that runs orchestrations (each live worker, or this one): activities run, replays committed, memory. */
  workerStats(): Promise<WorkerStats[]>;
  stop(): Promise<void>;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`startLocalHost: ${name} must be a whole number of at least 1 (got ${value}).`);
  return value;
}

/** The SDK's client uses axios, which honours HTTP_PROXY: keep calls to the local host off any proxy. */
function bypassProxyFor(hostname: string): void {
  if (!process.env.HTTP_PROXY && !process.env.http_proxy) return;
  const current = process.env.NO_PROXY ?? process.env.no_proxy ?? '';
  const entries = current.split(',').map((s) => s.trim()).filter(Boolean);
  if (!entries.includes(hostname)) process.env.NO_PROXY = [...entries, hostname].join(',');
}

/** The host.json of the app an entry belongs to (the nearest one up from it, as `func` finds it), parsed. */
function hostJsonOf(entry: string): { file: string; json: unknown } | undefined {
  let dir = dirname(entry.startsWith('file:') ? fileURLToPath(entry) : resolve(entry));
  for (;;) {
    const file = join(dir, 'host.json');
    if (existsSync(file)) {
      try {
        return { file, json: JSON.parse(readFileSync(file, 'utf8')) };
      } catch {
        return undefined;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

type DurableSettings = { maxConcurrentActivityFunctions?: unknown; storageProvider?: { maxQueuePollingInterval?: unknown } };
const durableSettings = (json: unknown): DurableSettings | undefined => (json as { extensions?: { durableTask?: DurableSettings } } | undefined)?.extensions?.durableTask;

/** Like `func`, read the durable limits from the host.json of the app the entry belongs to. */
export function hostJsonActivityLimit(entry: string): number | undefined {
  const limit = durableSettings(hostJsonOf(entry)?.json)?.maxConcurrentActivityFunctions;
  return Number.isInteger(limit) && (limit as number) > 0 ? (limit as number) : undefined;
}

/**
 * The longest wait between a worker's empty polls of the task hub, ms: host.json's
 * `extensions.durableTask.storageProvider.maxQueuePollingInterval`, as the Azure Storage backend
 * reads it; undefined when unset (the extension then takes 30 s). A value that is not a time span
 * is refused, naming the file and the setting.
 */
export function hostJsonQueuePollingMs(entry: string): number | undefined {
  const found = hostJsonOf(entry);
  const value = durableSettings(found?.json)?.storageProvider?.maxQueuePollingInterval;
  if (value === undefined) return undefined;
  const ms = timeSpanMs(value);
  if (ms === undefined || ms <= 0) {
    throw new Error(`${found!.file}: extensions.durableTask.storageProvider.maxQueuePollingInterval ${JSON.stringify(value)} is not a time span like "00:00:02" (hh:mm:ss)`);
  }
  return ms;
}

function randomKey(): string {
  return randomBytes(24).toString('base64url');
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const workers = positiveInteger('workers', options.workers, 1);
  const leaseMs = positiveInteger('leaseMs', options.leaseMs, 30_000);
  const pollMs = options.pollMs !== undefined ? positiveInteger('pollMs', options.pollMs, 0) : (hostJsonQueuePollingMs(options.entry) ?? DEFAULT_MAX_QUEUE_POLL_MS);
  if (workers > 1 && options.storeFile === ':memory:') {
    throw new Error(`startLocalHost: ${workers} workers share the task hub through its file; storeFile ":memory:" lives in one process. Give a file path.`);
  }
  for (const [k, v] of Object.entries(options.settings ?? {})) process.env[k] = v;

  const registrations: Registration[] = [];
  const coreLog = (level: string, _category: string, message: string) => {
    if (level !== 'debug' && level !== 'trace') log(`[functions] ${level}: ${message}`);
  };
  try {
    await loadEntry(options.entry, (metadata, handler) => registrations.push(toRegistration(metadata, handler)), coreLog);
  } catch (err) {
    throw new Error(`Loading the function app entry "${options.entry}" failed: ${err instanceof Error ? err.message : String(err)}. Fix the module (it must import and register without errors).`, { cause: err });
  }
  const seen = new Set<string>();
  for (const r of registrations) {
    if (seen.has(r.name.toLowerCase())) throw new Error(`Function "${r.name}" is registered twice in "${options.entry}"; function names must be unique.`);
    seen.add(r.name.toLowerCase());
  }
  setCoreLog(coreLog);

  // Known once the server listens (it carries the port); read lazily by HTTP functions and activities.
  let clientData: ClientData | undefined;
  const store = new HistoryStore(options.storeFile, { shared: workers > 1 });
  const engineOptions = {
    maxConcurrentActivities: options.maxConcurrentActivities ?? hostJsonActivityLimit(options.entry) ?? 16,
    preserveUnprocessedEvents: options.preserveUnprocessedEvents ?? false,
    rejectRelisting: options.rejectRelisting ?? true,
    dispatchLatencyMs: options.dispatchLatencyMs ?? 0,
  };
  const engine = new DurableEngine({
    store,
    registrations,
    ...engineOptions,
    log,
    clientData: () => clientData,
    // Scaled out, this process only reads and writes the store; the workers replay and run activities.
    shared: workers > 1 ? { role: 'client' } : undefined,
  });
  const functionKeys = options.functionKeys && options.functionKeys.length > 0 ? [...options.functionKeys] : [randomKey()];
  const systemKey = options.systemKey ?? randomKey();
  const masterKey = options.masterKey ?? randomKey();
  const functionSecrets = new Map<string, Map<string, string>>();
  const setFunctionKey = (fn: string, keyName: string, value: string) => {
    if (!registrations.some((r) => r.name.toLowerCase() === fn.toLowerCase())) {
      throw new Error(`A key for function "${fn}": the app registers no function of that name.`);
    }
    const own = functionSecrets.get(fn.toLowerCase()) ?? new Map<string, string>();
    own.set(keyName, value);
    functionSecrets.set(fn.toLowerCase(), own);
  };
  // Keys of functions the app no longer registers are kept (as Azure keeps them) and match nothing.
  for (const [fn, keys] of Object.entries(options.functionSecrets ?? {})) functionSecrets.set(fn.toLowerCase(), new Map(Object.entries(keys)));
  const rpcToken = randomKey();
  const hostname = options.hostname ?? '127.0.0.1';
  const server = createHttpFront({ registrations, engine, functionKeys, masterKey, functionSecrets, systemKey, rpcToken, clientData: () => clientData as ClientData, log });
  let port: number;
  try {
    port = await listen(server, options.port ?? 7071, hostname);
  } catch (err) {
    store.close();
    throw new Error(`The local host could not listen on ${hostname}:${options.port ?? 7071}: ${err instanceof Error ? err.message : String(err)}. Pick another port (0 = any free port).`, { cause: err });
  }
  const urlHost = hostname.includes(':') ? `[${hostname}]` : hostname;
  const baseUrl = `http://${urlHost}:${port}`;
  clientData = buildClientData(baseUrl, `${baseUrl}/durabletask/${rpcToken}/`, options.taskHub ?? 'LcmTaskHub', systemKey);
  // Without WEBSITE_HOSTNAME the SDK rewrites client URLs to localhost:7071 (its func-start default).
  if (!process.env.WEBSITE_HOSTNAME) process.env.WEBSITE_HOSTNAME = `${urlHost}:${port}`;
  bypassProxyFor(hostname);
  let pool: WorkerPool | undefined;
  if (workers > 1) {
    try {
      pool = await startWorkers(workers, { entry: options.entry, storeFile: options.storeFile, leaseMs, pollMs, ...engineOptions, clientData }, log);
    } catch (err) {
      server.close();
      server.closeAllConnections();
      store.close();
      throw err;
    }
  }
  engine.start();
  log(`local host: ${registrations.length} functions from ${options.entry}, listening on ${baseUrl}${pool ? `, ${workers} workers (pids ${pool.pids.join(', ')})` : ''}`);

  let stopping: Promise<void> | undefined;
  return {
    baseUrl,
    port,
    registrations: registrations.map(describe),
    functionKeys,
    masterKey,
    systemKey,
    functionSecrets: () => Object.fromEntries([...functionSecrets].map(([fn, keys]) => [fn, Object.fromEntries(keys)])),
    setFunctionKey,
    clientData,
    listInstances: (filter, opts) => engine.listInstances(filter, opts),
    getInstance: (id, opts) => engine.getStatus(id, opts),
    getTimeline: (id) => engine.getTimeline(id),
    waitForInstance: (id, opts) => engine.waitForInstance(id, opts?.timeoutInMs),
    startNew: (name, opts) => engine.startNew(name, opts?.instanceId, JSON.stringify(opts?.input ?? null)),
    raiseEvent: (id, name, data) => engine.raiseEvent(id, name, data === undefined ? null : JSON.stringify(data)),
    terminate: (id, reason) => engine.terminate(id, reason ?? ''),
    workerPids: pool?.pids ?? [],
    workerStats: async () => (pool ? pool.stats() : [{ pid: process.pid, ...engine.stats(), rssBytes: process.memoryUsage.rss() }]),
    stop: () => {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await pool?.stop();
        await engine.stop();
        store.close();
      })();
      return stopping;
    },
  };
}
