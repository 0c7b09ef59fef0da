/**
 * Timing probes on the local durable host, for benchmarks only. The host exposes no metrics, so
 * this wraps three private methods of DurableEngine (durable-functions 3.5.0 host, local/host/engine.ts):
 *   - `turn(instanceId)`: one orchestration step = load inbox, replay, commit history, schedule work;
 *   - `replay(...)`: the SDK replay inside a turn;
 *   - `dispatchActivity(work)`: queues an activity; its queued job is wrapped to time the execution.
 * A turn has no I/O but awaits the SDK's promise, so other microtasks may run inside a measured turn:
 * the figures are an upper bound of engine time. If the engine's internals change, `available` is
 * false and nothing is wrapped.
 */
import { DurableEngine } from '../local/host/engine.js';

export interface ActivityRun {
  name: string;
  instanceId: string;
  /** performance.now() when the engine queued it, started it, and when it ended. */
  queuedAt: number;
  startedAt?: number;
  endedAt?: number;
}

export interface TurnRecord {
  instanceId: string;
  start: number;
  ms: number;
  replayMs: number;
  /** Process CPU time (user + system) during the replay: robust to a loaded machine, unlike replayMs. */
  replayCpuMs: number;
  replayed: boolean;
}

export interface HostProbe {
  readonly available: boolean;
  turns: TurnRecord[];
  activities: ActivityRun[];
  reset(): void;
  uninstall(): void;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
interface Queue {
  push(job: () => Promise<void>): void;
}

export function installHostProbe(): HostProbe {
  const proto = DurableEngine.prototype as unknown as Record<string, Method | undefined>;
  const turn = proto['turn'];
  const replay = proto['replay'];
  // The engine queues an activity in runActivity (after any dispatch latency), else in dispatchActivity.
  const dispatchName = typeof proto['runActivity'] === 'function' ? 'runActivity' : 'dispatchActivity';
  const dispatch = proto[dispatchName];
  const probe: HostProbe = {
    available: typeof turn === 'function' && typeof replay === 'function' && typeof dispatch === 'function',
    turns: [],
    activities: [],
    reset() {
      probe.turns = [];
      probe.activities = [];
    },
    uninstall() {
      if (!probe.available) return;
      proto['turn'] = turn;
      proto['replay'] = replay;
      proto[dispatchName] = dispatch;
    },
  };
  if (!probe.available) return probe;

  // Replays run one per instance at a time; the current turn of an instance collects its replay time.
  const current = new Map<string, TurnRecord>();

  proto['turn'] = async function (this: unknown, ...args: unknown[]) {
    const instanceId = String(args[0]);
    const rec: TurnRecord = { instanceId, start: performance.now(), ms: 0, replayMs: 0, replayCpuMs: 0, replayed: false };
    current.set(instanceId, rec);
    try {
      return await turn!.apply(this, args);
    } finally {
      rec.ms = performance.now() - rec.start;
      current.delete(instanceId);
      probe.turns.push(rec);
    }
  };

  proto['replay'] = async function (this: unknown, ...args: unknown[]) {
    const row = args[0] as { instanceId?: string } | undefined;
    const rec = row?.instanceId ? current.get(row.instanceId) : undefined;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      return await replay!.apply(this, args);
    } finally {
      if (rec) {
        const c = process.cpuUsage(c0);
        rec.replayCpuMs += (c.user + c.system) / 1000;
        rec.replayMs += performance.now() - t0;
        rec.replayed = true;
      }
    }
  };

  proto[dispatchName] = function (this: unknown, ...args: unknown[]) {
    const work = args[0] as { name: string; instanceId: string };
    const run: ActivityRun = { name: work.name, instanceId: work.instanceId, queuedAt: performance.now() };
    const queue = (this as { queue?: Queue }).queue;
    if (!queue) return dispatch!.apply(this, args);
    // The engine pushes the activity's job synchronously: wrap that one push.
    const own = Object.prototype.hasOwnProperty.call(queue, 'push');
    const push = queue.push;
    queue.push = (job) =>
      push.call(queue, async () => {
        run.startedAt = performance.now();
        try {
          await job();
        } finally {
          run.endedAt = performance.now();
        }
      });
    try {
      return dispatch!.apply(this, args);
    } finally {
      if (own) queue.push = push;
      else delete (queue as Partial<Queue>).push;
      probe.activities.push(run);
    }
  };
  return probe;
}
