/**
 * The actions the SDK returns and how they are named in messages. Since replay schema V2 the SDK
 * returns every action of the execution so far (cumulative), with Task.all/Task.any as compound
 * actions; a task yielded alone and again inside Task.all is the same object. What the extension
 * does with them is modelled in shim.ts.
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
