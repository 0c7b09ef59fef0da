/**
 * Dispatches one after another on a boot's critical path, read from the task hub's histories
 * (benchmarks only). Walks back from the root's last episode: each episode was woken by the message
 * that arrived last in it (an activity's result, a sub-orchestration's end, a timer, a raised
 * event); the walk goes to where that work was dispatched: the episode that scheduled the activity,
 * the child's own last episode, the instance whose `notifyInstance` (or a step's `runBootStep`)
 * activity raised the event; an
 * instance's first episode leads to what started it (its parent, or the activity whose input names
 * it, e.g. the boot's `startInstances`). Counted: activities and orchestration starts (each one
 * work-item or control-queue message on Azure Storage, waited for one after another), raised events
 * apart. Times the task hub's queue latency, this is what the hub adds to the boot on Azure.
 */
import Database from 'better-sqlite3';
import { EventType, parseEvent, type HistoryEvent } from '../local/host/history.js';

export interface DispatchChain {
  /** Activities and orchestration starts on the chain. */
  dispatches: number;
  /** Raised events on the chain (an orchestration message each). */
  events: number;
  timers: number;
  /** The chain from the boot's start to its end. */
  path: string[];
}

const COMPLETIONS: ReadonlySet<number> = new Set([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
  EventType.TimerFired,
]);
/** Activities that start orchestration instances (functions/activities/instances.ts, watchdog.ts). */
const STARTERS: ReadonlySet<string> = new Set(['startInstances', 'startWatchdog', 'startRestart']);
const SCHEDULED: ReadonlySet<number> = new Set([EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated, EventType.TimerCreated]);

interface Instance {
  id: string;
  episodes: HistoryEvent[][];
  scheduledIn: Map<number, { episode: number; event: HistoryEvent }>;
}

export function dispatchChain(storeFile: string, rootInstanceId: string): DispatchChain {
  const db = new Database(storeFile, { readonly: true });
  const instances = new Map<string, Instance>();
  try {
    const rows = db.prepare('SELECT h.instance_id AS id, h.event AS event FROM history h JOIN instances i ON i.instance_id = h.instance_id AND i.execution_id = h.execution_id ORDER BY h.instance_id, h.seq').all() as { id: string; event: string }[];
    for (const r of rows) {
      let inst = instances.get(r.id);
      if (!inst) instances.set(r.id, (inst = { id: r.id, episodes: [], scheduledIn: new Map() }));
      const e = parseEvent(r.event);
      if (e.EventType === EventType.OrchestratorStarted) inst.episodes.push([]);
      inst.episodes[inst.episodes.length - 1]?.push(e);
      if (SCHEDULED.has(e.EventType)) inst.scheduledIn.set(e.EventId, { episode: inst.episodes.length - 1, event: e });
    }
  } finally {
    db.close();
  }
  // Every activity scheduled anywhere, to find who raised an event or started an instance.
  const scheduledActivities = [...instances.values()].flatMap((inst) =>
    [...inst.scheduledIn.values()].filter((s) => s.event.EventType === EventType.TaskScheduled).map((s) => ({ inst, ...s })),
  );
  const sameJson = (a: string | null | undefined, b: unknown): boolean => {
    try {
      return JSON.stringify(JSON.parse(a ?? 'null')) === JSON.stringify(b);
    } catch {
      return false;
    }
  };

  const out: DispatchChain = { dispatches: 0, events: 0, timers: 0, path: [] };
  let inst = instances.get(rootInstanceId);
  let i = inst ? inst.episodes.length - 1 : -1;
  for (let hops = 0; inst && i >= 0 && hops < 10_000; hops++) {
    const ep = inst.episodes[i]!;
    const wakers = ep.filter((e) => COMPLETIONS.has(e.EventType) || e.EventType === EventType.EventRaised);
    if (wakers.length === 0) {
      // The instance's first episode: go to what started it.
      const started = ep.find((e) => e.EventType === EventType.ExecutionStarted);
      if (!started) break;
      out.dispatches++;
      out.path.unshift(`start ${started.Name}`);
      const parent = started.ParentInstanceId ? instances.get(started.ParentInstanceId) : undefined;
      const created = parent && [...parent.scheduledIn.values()].find((s) => s.event.EventType === EventType.SubOrchestrationInstanceCreated && s.event.InstanceId === inst!.id);
      if (parent && created) {
        inst = parent;
        i = created.episode;
        continue;
      }
      const needle = JSON.stringify(inst.id);
      // A boot's groups are started by its prepareBoot activity, whose input names their run, not them.
      const run = (() => {
        try {
          return (JSON.parse(started.Input ?? 'null') as { notify?: { run?: string } } | null)?.notify?.run;
        } catch {
          return undefined;
        }
      })();
      // Only the activities that start instances through the durable client: others name instances
      // too (a report raised to the root, a status read), and an earlier boot's would be taken for
      // the starter of one started by the API.
      const startedBy = (s: (typeof scheduledActivities)[number]) =>
        (STARTERS.has(String(s.event.Name)) && (s.event.Input ?? '').includes(needle)) ||
        (s.event.Name === 'prepareBoot' && run !== undefined && (s.event.Input ?? '').includes(JSON.stringify(run)));
      const starter = scheduledActivities
        .filter((s) => s.inst !== inst && startedBy(s) && s.event.Timestamp.getTime() <= started.Timestamp.getTime())
        .sort((a, b) => b.event.Timestamp.getTime() - a.event.Timestamp.getTime())[0];
      if (!starter) break;
      out.dispatches++;
      out.path.unshift(String(starter.event.Name));
      inst = starter.inst;
      i = starter.episode;
      continue;
    }
    const last = wakers.reduce((a, b) => (b.Timestamp.getTime() > a.Timestamp.getTime() ? b : a));
    if (last.EventType === EventType.EventRaised) {
      // Raised by a notifyInstance activity whose input carries this event's data, or by the
      // runBootStep activity of the step it reports (its input names the step and this instance).
      out.events++;
      const report = (() => {
        try {
          return JSON.parse(last.Input ?? 'null') as { kind?: string; name?: string; run?: string } | null;
        } catch {
          return null;
        }
      })();
      const sender = scheduledActivities.find((s) => {
        try {
          const input = JSON.parse(s.event.Input ?? 'null') as { instanceId?: string; event?: string; data?: unknown; step?: string; notify?: { instanceId?: string; run?: string } };
          if (s.event.Name === 'runBootStep') return report?.kind === 'step' && input?.step === report.name && input.notify?.instanceId === inst!.id && input.notify.run === report.run;
          return input?.instanceId === inst!.id && input.event === last.Name && sameJson(last.Input, input.data);
        } catch {
          return false;
        }
      });
      if (!sender) break;
      out.dispatches++;
      out.path.unshift(String(sender.event.Name));
      inst = sender.inst;
      i = sender.episode;
      continue;
    }
    const id = last.EventType === EventType.TimerFired ? (last.TimerId as number) : (last.TaskScheduledId as number);
    const from = inst.scheduledIn.get(id);
    if (!from || from.episode >= i) break;
    if (from.event.EventType === EventType.TimerCreated) {
      out.timers++;
      i = from.episode;
    } else if (from.event.EventType === EventType.SubOrchestrationInstanceCreated) {
      // The child's end woke this episode: its own chain leads back here through its start.
      const child = from.event.InstanceId ? instances.get(from.event.InstanceId) : undefined;
      if (!child) break;
      inst = child;
      i = child.episodes.length - 1;
    } else {
      out.dispatches++;
      out.path.unshift(String(from.event.Name));
      i = from.episode;
    }
  }
  return out;
}
