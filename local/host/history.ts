/**
 * History events in the shape the durable-functions SDK replays (PascalCase fields, numeric
 * EventType). Dates are Date objects in memory: the SDK compares OrchestratorStarted timestamps
 * with `>` and only a Date compares correctly. They are ISO strings in the store.
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export const EVENT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k]));

export interface FailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
}

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: Date;
  Name?: string;
  Input?: string | null;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: Date;
  InstanceId?: string;
  FailureDetails?: FailureDetails;
  Reason?: string;
  Details?: string;
  OrchestrationStatus?: string;
  ParentInstanceId?: string;
}

const DATE_FIELDS = ['Timestamp', 'FireAt'] as const;

export function serializeEvent(e: HistoryEvent): string {
  return JSON.stringify(e);
}

export function parseEvent(text: string): HistoryEvent {
  const raw = JSON.parse(text) as Record<string, unknown>;
  for (const f of DATE_FIELDS) if (typeof raw[f] === 'string') raw[f] = new Date(raw[f] as string);
  return raw as unknown as HistoryEvent;
}

export function event(type: number, fields: Partial<HistoryEvent> = {}, at: Date = new Date()): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: at, ...fields };
}

/** JSON text of a payload as the host stores it: `undefined` becomes `null`. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
}

export function fromJsonText(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  return JSON.parse(text);
}
