/**
 * Dispatches one after another on a boot's critical path, read from the task hub's histories
 * (benchmarks only). From the root's last episode, walk back: the completion that arrived last in
 * an episode woke it; that task was dispatched in an earlier episode, which a still earlier
 * completion woke, and so on to ExecutionStarted. A sub-orchestration on that chain adds its own
 * chain (its start is a dispatch too). On Azure Storage each hop is at least one queue message,
 * so this count times the queue latency is what the task hub adds to the boot.
 */
import Database from 'better-sqlite3';
import { EventType, parseEvent, type HistoryEvent } from '../local/host/history.js';

export interface DispatchChain {
  /** Activity and sub-orchestration dispatches (timers counted apart), root to the last completion. */
  dispatches: number;
  timers: number;
  /** Activity names and sub-orchestration names along the chain, in order. */
  path: string[];
}

const COMPLETIONS: ReadonlySet<number> = new Set([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
  EventType.TimerFired,
]);

export function dispatchChain(storeFile: string, rootInstanceId: string): DispatchChain {
  const db = new Database(storeFile, { readonly: true });
  try {
    const historyOf = (instanceId: string): HistoryEvent[] => {
      const row = db.prepare('SELECT execution_id FROM instances WHERE instance_id = ?').get(instanceId) as { execution_id: string } | undefined;
      if (!row) return [];
      return (db.prepare('SELECT event FROM history WHERE instance_id = ? AND execution_id = ? ORDER BY seq').all(instanceId, row.execution_id) as { event: string }[]).map((r) => parseEvent(r.event));
    };
    const walk = (instanceId: string, depth: number): DispatchChain => {
      const history = historyOf(instanceId);
      // Episodes: OrchestratorStarted .. OrchestratorCompleted.
      const episodes: HistoryEvent[][] = [];
      for (const e of history) {
        if (e.EventType === EventType.OrchestratorStarted) episodes.push([]);
        episodes[episodes.length - 1]?.push(e);
      }
      const scheduledIn = new Map<number, { episode: number; event: HistoryEvent }>();
      episodes.forEach((ep, i) => {
        for (const e of ep) {
          if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated || e.EventType === EventType.TimerCreated) scheduledIn.set(e.EventId, { episode: i, event: e });
        }
      });
      const out: DispatchChain = { dispatches: 0, timers: 0, path: [] };
      let i = episodes.length - 1;
      while (i > 0) {
        const woke = episodes[i]!.filter((e) => COMPLETIONS.has(e.EventType));
        if (woke.length === 0) break; // an external event or the first episode: the chain starts here
        const last = woke.reduce((a, b) => (b.Timestamp.getTime() > a.Timestamp.getTime() ? b : a));
        const id = last.EventType === EventType.TimerFired ? (last.TimerId as number) : (last.TaskScheduledId as number);
        const from = scheduledIn.get(id);
        if (!from || from.episode >= i) break;
        const s = from.event;
        if (s.EventType === EventType.TimerCreated) out.timers++;
        else {
          out.dispatches++;
          if (s.EventType === EventType.SubOrchestrationInstanceCreated && s.InstanceId && depth < 8) {
            const child = walk(s.InstanceId, depth + 1);
            out.dispatches += child.dispatches;
            out.timers += child.timers;
            out.path.unshift(`${s.Name}[${child.path.join(' > ')}]`);
          } else out.path.unshift(String(s.Name));
        }
        i = from.episode;
      }
      return out;
    };
    return walk(rootInstanceId, 0);
  } finally {
    db.close();
  }
}
