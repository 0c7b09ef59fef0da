/**
 * The front side of a local host that scales out: forks N worker processes (worker.ts) over the
 * task hub's file, waits until each has loaded the app, forwards their logs and stops them. A
 * worker that dies is not replaced (its claims expire and the others take its work over).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig, WorkerMessage, WorkerStats } from './worker.js';

export type { WorkerStats } from './worker.js';

export interface WorkerPool {
  /** The OS process ids, in worker order (a test kills one to watch its work move). */
  pids: number[];
  /** Workers still running. */
  alive(): number;
  /** What each live worker did so far (activities run, replays committed) and its memory. */
  stats(): Promise<WorkerStats[]>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;
// Sources run under tsx (the worker is a .ts file next to this one); the build runs plain node.
const WORKER_FILE = fileURLToPath(new URL(`./worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
const EXEC_ARGV = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];

export async function startWorkers(count: number, base: Omit<WorkerConfig, 'workerId'>, log: (line: string) => void): Promise<WorkerPool> {
  const children: ChildProcess[] = [];
  const exited = new Map<ChildProcess, Promise<void>>();
  let stopping = false;
  const statsWaiters = new Map<ChildProcess, (s: WorkerStats) => void>();
  const starts = Array.from({ length: count }, (_, i) => {
    const workerId = `w${i + 1}-${process.pid}`;
    // The front already applied the app settings to its environment; the worker inherits them.
    const child = fork(WORKER_FILE, [], { execArgv: EXEC_ARGV, env: process.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
    child.stdout?.on('data', (d: Buffer) => log(`[worker ${i + 1}] ${d.toString().trimEnd()}`));
    exited.set(child, new Promise<void>((resolve) => child.once('exit', () => resolve())));
    child.once('exit', (code, signal) => {
      if (!stopping) log(`local host: worker ${i + 1} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); its claims pass to the other workers when their leases expire`);
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${i + 1} did not load the app within ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`)), READY_TIMEOUT_MS);
      child.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'log') log(`[worker ${i + 1}] ${msg.line}`);
        else if (msg.type === 'stats') statsWaiters.get(child)?.(msg.stats);
        else if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`worker ${i + 1} failed to start: ${msg.message}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${i + 1} exited (${signal ?? `code ${code}`}) before it was ready; stderr:\n${stderr}`));
      });
      child.send({ ...base, workerId } satisfies WorkerConfig);
    });
  });
  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.send({ type: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited.get(child);
        clearTimeout(timer);
      }),
    );
  };
  try {
    await Promise.all(starts);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pids: children.map((c) => c.pid as number),
    alive: () => children.filter((c) => c.exitCode === null && c.signalCode === null).length,
    stats: async () => {
      const live = children.filter((c) => c.exitCode === null && c.signalCode === null && c.connected);
      const answers = await Promise.all(
        live.map(
          (c) =>
            new Promise<WorkerStats | undefined>((resolve) => {
              const timer = setTimeout(() => resolve(undefined), 5_000);
              statsWaiters.set(c, (s) => {
                clearTimeout(timer);
                statsWaiters.delete(c);
                resolve(s);
              });
              c.send({ type: 'stats' });
            }),
        ),
      );
      return answers.filter((s): s is WorkerStats => s !== undefined);
    },
    stop,
  };
}
