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
import { EventType, type HistoryEvent } from '../local/host/history.js';

export interface ActivityRun {
  name: string;
  instanceId: string;
  /** performance.now() when the engine queued it, started it, and when it ended. */
  queuedAt: number;
  startedAt?: number;
  endedAt?: number;
  /** A boot step's activity (runBootStep): the step it starts. */
  step?: string;
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

/** One replay as the host asked for it: enough to run it again, alone, once the host is idle. */
interface ReplayRecord {
  engine: unknown;
  instanceId: string;
  executionId: string;
  /** Events the SDK was given, and how many of them were marked played. */
  length: number;
  played: number;
}

export interface HostProbe {
  readonly available: boolean;
  turns: TurnRecord[];
  activities: ActivityRun[];
  reset(): void;
  uninstall(): void;
  /**
   * Runs every replay of the run again, one at a time on the idle host, on the same history prefix,
   * and returns the CPU time each instance's replays took. Inside a live turn other work of the
   * process runs while the SDK's promise is awaited, so replayCpuMs there grows with concurrency;
   * this figure is the replays' own cost.
   */
  replayAlone(): Promise<Map<string, { cpuMs: number; replays: number }>>;
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
  const replays: ReplayRecord[] = [];
  const probe: HostProbe = {
    available: typeof turn === 'function' && typeof replay === 'function' && typeof dispatch === 'function',
    turns: [],
    activities: [],
    reset() {
      probe.turns = [];
      probe.activities = [];
      replays.length = 0;
    },
    async replayAlone() {
      const out = new Map<string, { cpuMs: number; replays: number }>();
      const histories = new Map<string, HistoryEvent[]>();
      for (const r of replays) {
        const store = (r.engine as { store: { getInstance(id: string): { executionId: string } | undefined; loadHistory(id: string, exec: string): HistoryEvent[] } }).store;
        const row = store.getInstance(r.instanceId);
        if (!row || row.executionId !== r.executionId) continue;
        const key = `${r.instanceId}|${r.executionId}`;
        let full = histories.get(key);
        if (!full) histories.set(key, (full = store.loadHistory(r.instanceId, r.executionId)));
        const history = full.slice(0, r.length).map((e, i) => ({ ...e, IsPlayed: i < r.played }));
        const started = [...history].reverse().find((e) => e.EventType === EventType.OrchestratorStarted);
        const now = started ? new Date(started.Timestamp) : new Date();
        const c0 = process.cpuUsage();
        await replay!.apply(r.engine, [row, { executionId: r.executionId, history, actions: [], scheduled: new Set() }, history, now]);
        const c = process.cpuUsage(c0);
        const acc = out.get(r.instanceId) ?? { cpuMs: 0, replays: 0 };
        acc.cpuMs += (c.user + c.system) / 1000;
        acc.replays += 1;
        out.set(r.instanceId, acc);
      }
      return out;
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
    const row = args[0] as { instanceId?: string; executionId?: string } | undefined;
    const rec = row?.instanceId ? current.get(row.instanceId) : undefined;
    const history = args[2] as HistoryEvent[] | undefined;
    if (row?.instanceId && row.executionId && history) {
      replays.push({ engine: this, instanceId: row.instanceId, executionId: row.executionId, length: history.length, played: history.filter((e) => e.IsPlayed).length });
    }
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
    const work = args[0] as { name: string; instanceId: string; input?: string };
    const run: ActivityRun = { name: work.name, instanceId: work.instanceId, queuedAt: performance.now() };
    if (work.name === 'runBootStep') run.step = stepOf(work.input);
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

/** The step a runBootStep work item starts (its input is the SDK's JSON, a string encoded once more at most). */
function stepOf(input: string | undefined): string | undefined {
  try {
    let v: unknown = JSON.parse(input ?? 'null');
    if (typeof v === 'string') v = JSON.parse(v);
    return (v as { step?: string } | null)?.step;
  } catch {
    return undefined;
  }
}
