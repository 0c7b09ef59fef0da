/**
 * One worker process of a local host that scales out (`startLocalHost({ workers: N })`): loads the
 * same app entry, opens the shared task hub and runs the replays and activities it claims under
 * leases. Started by the front process (workers.ts) with an IPC channel; its configuration, keys
 * included, arrives as the first IPC message (never on the command line, which `ps` shows).
 */
import { loadEntry, setCoreLog } from './functions-core.js';
import { toRegistration, type Registration } from './registry.js';
import { HistoryStore } from './store.js';
import { DurableEngine } from './engine.js';
import type { ClientData } from './client-data.js';

/** What the front sends a worker to start it. */
export interface WorkerConfig {
  entry: string;
  storeFile: string;
  workerId: string;
  leaseMs: number;
  pollMs: number;
  maxConcurrentActivities: number;
  preserveUnprocessedEvents: boolean;
  rejectRelisting: boolean;
  dispatchLatencyMs: number;
  clientData: ClientData;
}

/** What a worker did so far, and its memory. */
export interface WorkerStats {
  pid: number;
  activities: number;
  replays: number;
  droppedReplays: number;
  /** Wall time inside replay turns (replay + commit), ms. */
  turnMs: number;
  rssBytes: number;
}

/** Messages a worker sends its front. */
export type WorkerMessage = { type: 'ready' } | { type: 'log'; line: string } | { type: 'failed'; message: string } | { type: 'stats'; stats: WorkerStats };

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

async function run(config: WorkerConfig): Promise<void> {
  const log = (line: string) => send({ type: 'log', line });
  const registrations: Registration[] = [];
  const coreLog = (level: string, _category: string, message: string) => {
    if (level !== 'debug' && level !== 'trace') log(`[functions] ${level}: ${message}`);
  };
  await loadEntry(config.entry, (metadata, handler) => registrations.push(toRegistration(metadata, handler)), coreLog);
  setCoreLog(coreLog);
  const store = new HistoryStore(config.storeFile, { shared: true });
  const engine = new DurableEngine({
    store,
    registrations,
    maxConcurrentActivities: config.maxConcurrentActivities,
    preserveUnprocessedEvents: config.preserveUnprocessedEvents,
    rejectRelisting: config.rejectRelisting,
    dispatchLatencyMs: config.dispatchLatencyMs,
    log,
    clientData: () => config.clientData,
    shared: { role: 'worker', workerId: config.workerId, leaseMs: config.leaseMs, pollMs: config.pollMs },
  });
  engine.start();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    engine
      .stop()
      .finally(() => store.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'stop') stop();
    if (msg?.type === 'stats') send({ type: 'stats', stats: { pid: process.pid, ...engine.stats(), rssBytes: process.memoryUsage.rss() } });
  });
  // The front went away (killed): a worker never outlives it.
  process.on('disconnect', stop);
  send({ type: 'ready' });
}

process.once('message', (config: WorkerConfig) => {
  run(config).catch((err) => {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
});
