/**
 * The actions the SDK returns, reduced to what determinism is judged on. Since replay schema V2 the
 * SDK returns every action of the execution so far (cumulative), with Task.all/Task.any as compound
 * actions; a task yielded alone and again inside Task.all is the same object, hence the identity
 * de-duplication.
 */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ActionType).map(([k, v]) => [v, k]));

/** The SDK's action objects (fields vary per type). */
export interface SdkAction {
  actionType: number;
  functionName?: string;
  externalEventName?: string;
  instanceId?: string;
  input?: unknown;
  fireAt?: Date;
  isCanceled?: boolean;
  retryOptions?: SdkRetryOptions;
  compoundActions?: SdkAction[];
}

export interface SdkRetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** What is recorded per action position and compared on every replay. */
export interface ActionDescriptor {
  type: string;
  name?: string;
  instanceId?: string;
}

export const SUPPORTED_TYPES = new Set<number>([
  ActionType.CallActivity,
  ActionType.CallActivityWithRetry,
  ActionType.CallSubOrchestrator,
  ActionType.CallSubOrchestratorWithRetry,
  ActionType.ContinueAsNew,
  ActionType.CreateTimer,
  ActionType.WaitForExternalEvent,
]);

export function typeName(actionType: number): string {
  return TYPE_NAMES[actionType] ?? `Action${actionType}`;
}

/** Flatten compound actions, keeping first-seen order and each action object once. */
export function flattenActions(top: SdkAction[]): SdkAction[] {
  const seen = new Set<SdkAction>();
  const out: SdkAction[] = [];
  const visit = (a: SdkAction) => {
    if (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) {
      for (const c of a.compoundActions ?? []) visit(c);
      return;
    }
    if (seen.has(a)) return;
    seen.add(a);
    out.push(a);
  };
  for (const a of top) visit(a);
  return out;
}

export function describeAction(a: SdkAction): ActionDescriptor {
  const d: ActionDescriptor = { type: typeName(a.actionType) };
  if (a.functionName !== undefined) d.name = a.functionName;
  if (a.externalEventName !== undefined) d.name = a.externalEventName;
  if (a.instanceId !== undefined && a.instanceId !== null) d.instanceId = a.instanceId;
  return d;
}

export function formatAction(d: ActionDescriptor | undefined): string {
  if (!d) return 'nothing';
  const args = [d.name, d.instanceId].filter((x): x is string => x !== undefined).map((x) => JSON.stringify(x));
  return `${d.type}(${args.join(', ')})`;
}

export function sameAction(a: ActionDescriptor, b: ActionDescriptor): boolean {
  return a.type === b.type && a.name === b.name && (a.instanceId ?? null) === (b.instanceId ?? null);
}

/**
 * Compare the replayed actions with the recorded ones position by position. Returns the error
 * message of the first mismatch, or undefined.
 */
export function findNonDeterminism(orchestration: string, recorded: ActionDescriptor[], replayed: ActionDescriptor[]): string | undefined {
  const n = Math.max(recorded.length, replayed.length);
  for (let i = 0; i < recorded.length && i < n; i++) {
    const r = recorded[i];
    const p = replayed[i];
    if (!p || !sameAction(r, p)) {
      return (
        `Non-deterministic orchestrator "${orchestration}" at action #${i}: history has ${formatAction(r)} ` +
        `but the code now does ${p ? formatAction(p) : 'nothing more'}. Orchestrator code must make the same calls in the same order ` +
        `on every replay: move I/O, clocks and randomness into activities, or start a new instance after changing the code.`
      );
    }
  }
  return undefined;
}

/** Delay before the next attempt of a retried call, from the SDK's RetryOptions. */
export function retryDelayMs(opts: SdkRetryOptions, failedAttempt: number): number {
  const coefficient = opts.backoffCoefficient && opts.backoffCoefficient > 0 ? opts.backoffCoefficient : 1;
  let delay = opts.firstRetryIntervalInMilliseconds * Math.pow(coefficient, Math.max(0, failedAttempt - 1));
  if (opts.maxRetryIntervalInMilliseconds && opts.maxRetryIntervalInMilliseconds > 0) delay = Math.min(delay, opts.maxRetryIntervalInMilliseconds);
  return Math.max(0, Math.round(delay));
}
