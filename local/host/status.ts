/** Instance status bodies (as the Durable extension's HTTP API answers) and the readable timeline. */
import { EVENT_NAMES, EventType, fromJsonText, type HistoryEvent } from './history.js';
import type { InstanceRow } from './store.js';

export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

function safeParse(text: string | null): unknown {
  try {
    return fromJsonText(text);
  } catch {
    return text;
  }
}

export function toStatus(row: InstanceRow, history: HistoryEvent[] | undefined, opts: StatusOptions = {}): OrchestrationStatus {
  const status: OrchestrationStatus = {
    name: row.name,
    instanceId: row.instanceId,
    runtimeStatus: row.status,
    input: opts.showInput === false ? null : safeParse(row.input),
    customStatus: safeParse(row.customStatus),
    output: safeParse(row.output),
    createdTime: row.createdTime,
    lastUpdatedTime: row.lastUpdatedTime,
  };
  if (opts.showHistory && history) status.historyEvents = toHistoryEvents(history, !!opts.showHistoryOutput);
  return status;
}

/** History as the extension shows it with showHistory=true: names resolved, replay noise dropped. */
function toHistoryEvents(history: HistoryEvent[], withOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
    if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated || e.EventType === EventType.TimerCreated) {
      scheduled.set(e.EventId, e);
      continue;
    }
    const entry: Record<string, unknown> = { EventType: EVENT_NAMES[e.EventType] ?? String(e.EventType), Timestamp: e.Timestamp.toISOString() };
    const id = e.TaskScheduledId ?? e.TimerId;
    const origin = id !== undefined ? scheduled.get(id) : undefined;
    if (e.Name !== undefined) entry.Name = e.Name;
    else if (origin?.Name !== undefined) entry.FunctionName = origin.Name;
    if (e.EventType === EventType.ExecutionStarted) entry.FunctionName = e.Name;
    if (origin) entry.ScheduledTime = origin.Timestamp.toISOString();
    if (e.FireAt) entry.FireAt = e.FireAt.toISOString();
    if (e.FailureDetails) entry.Reason = `${e.FailureDetails.ErrorType}: ${e.FailureDetails.ErrorMessage}`;
    else if (e.Reason !== undefined) entry.Reason = e.Reason;
    if (withOutput) {
      if (e.Result !== undefined) entry.Result = safeParse(e.Result);
      if (e.Input !== undefined && e.EventType !== EventType.ExecutionStarted) entry.Input = safeParse(e.Input ?? null);
    }
    if (e.EventType === EventType.ExecutionCompleted || e.EventType === EventType.ExecutionFailed || e.EventType === EventType.ExecutionTerminated) {
      entry.OrchestrationStatus = e.OrchestrationStatus;
    }
    out.push(entry);
  }
  return out;
}

export interface TimelineEntry {
  /** ISO time of the event. */
  time: string;
  /** Event name: ExecutionStarted, TaskScheduled, TaskCompleted, TaskFailed, TimerCreated, TimerFired, EventRaised, ... */
  event: string;
  /** Activity, sub-orchestration, orchestration or external event name. */
  name?: string;
  taskId?: number;
  /** Sub-orchestration instance id. */
  instanceId?: string;
  /** From scheduling to completion, for completions. */
  durationMs?: number;
  result?: unknown;
  failure?: string;
  fireAt?: string;
}

export function toTimeline(history: HistoryEvent[]): TimelineEntry[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: TimelineEntry[] = [];
  for (const e of history) {
    if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
    const entry: TimelineEntry = { time: e.Timestamp.toISOString(), event: EVENT_NAMES[e.EventType] ?? String(e.EventType) };
    switch (e.EventType) {
      case EventType.TaskScheduled:
      case EventType.TimerCreated:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(e.EventId, e);
        entry.taskId = e.EventId;
        if (e.Name !== undefined) entry.name = e.Name;
        if (e.InstanceId !== undefined) entry.instanceId = e.InstanceId;
        if (e.FireAt) entry.fireAt = e.FireAt.toISOString();
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed:
      case EventType.TimerFired: {
        const id = (e.TaskScheduledId ?? e.TimerId) as number;
        const origin = scheduled.get(id);
        entry.taskId = id;
        if (origin?.Name !== undefined) entry.name = origin.Name;
        if (origin?.InstanceId !== undefined) entry.instanceId = origin.InstanceId;
        if (origin) entry.durationMs = e.Timestamp.getTime() - origin.Timestamp.getTime();
        if (e.Result !== undefined) entry.result = safeParse(e.Result);
        if (e.FailureDetails) entry.failure = `${e.FailureDetails.ErrorType}: ${e.FailureDetails.ErrorMessage}`;
        else if (e.Reason !== undefined) entry.failure = e.Reason;
        break;
      }
      default:
        if (e.Name !== undefined) entry.name = e.Name;
        if (e.EventType === EventType.EventRaised || e.EventType === EventType.ExecutionStarted) entry.result = safeParse(e.Input ?? null);
        if (e.EventType === EventType.ExecutionCompleted) entry.result = safeParse(e.Result ?? null);
        if (e.EventType === EventType.ExecutionTerminated) entry.result = safeParse(e.Input ?? null);
        if (e.FailureDetails) entry.failure = e.FailureDetails.ErrorMessage;
    }
    out.push(entry);
  }
  return out;
}

/** One line per entry: `time  event  name  duration  result|failure`. */
export function formatTimeline(entries: TimelineEntry[]): string {
  return entries
    .map((e) => {
      const parts = [e.time, e.event.padEnd(34)];
      parts.push((e.name ?? '').padEnd(20));
      parts.push(e.durationMs !== undefined ? `${e.durationMs} ms`.padStart(9) : ''.padStart(9));
      if (e.failure !== undefined) parts.push(`failed: ${e.failure}`);
      else if (e.result !== undefined) parts.push(JSON.stringify(e.result));
      else if (e.fireAt) parts.push(`fires ${e.fireAt}`);
      return parts.join('  ').trimEnd();
    })
    .join('\n');
}
