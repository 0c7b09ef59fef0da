/**
 * Rendering what the LCM answers for people: tables (registry, status, operations), the failure
 * report of a boot, an operation's timeline, and how to call the API. Pure functions of their input.
 */
import type { Failure } from '../functions/platform/boot-state.js';
import type { BootOutput } from '../functions/orchestrations/boot-platform.js';
import type { HistoryEvent, OperationStatus } from './api-client.js';

/** Left-aligned columns, two spaces apart, the last column unpadded. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export interface RegistryRow {
  service: string;
  kind?: string;
  vm?: string;
  host?: string;
  port?: number;
  status?: string;
}

export function endpointOf(e: { kind?: string; host?: string; port?: number }): string {
  if (!e.host || e.port === undefined) return '-';
  return e.kind === 'broker' ? `${e.host}:${e.port}` : `http://${e.host}:${e.port}`;
}

/** SERVICE KIND VM ENDPOINT STATUS, sorted by VM then service. */
export function registryTable(entries: RegistryRow[]): string {
  if (entries.length === 0) return 'the registry is empty: no service has been started yet';
  const sorted = [...entries].sort((a, b) => (a.vm ?? '').localeCompare(b.vm ?? '') || a.service.localeCompare(b.service));
  return table([
    ['SERVICE', 'KIND', 'VM', 'ENDPOINT', 'STATUS'],
    ...sorted.map((e) => [e.service, e.kind ?? '-', e.vm ?? '-', endpointOf(e), e.status ?? '-']),
  ]);
}

/** The body of GET /api/platform. */
export interface PlatformView {
  name: string | null;
  vms: Array<{ name: string; powerState?: string; publicIp?: string }>;
  services: Array<{ name: string; kind: string; vm: string; status: string; host?: string; port?: number; restartCount?: number }>;
  operations: Array<{ id: string; name: string; runtimeStatus: string; createdTime: string; kind?: string; target?: string }>;
}

export function statusView(p: PlatformView, now: Date = new Date()): string {
  const out: string[] = [`platform ${p.name ?? '(no topology seeded)'}`, '', 'VMs'];
  out.push(p.vms.length ? table([['VM', 'POWER', 'PUBLIC IP'], ...p.vms.map((v) => [v.name, v.powerState ?? 'unknown', v.publicIp ?? '-'])]) : '  (none)');
  out.push('', 'Services');
  out.push(
    p.services.length
      ? table([
          ['SERVICE', 'KIND', 'VM', 'ENDPOINT', 'STATUS', 'RESTARTS'],
          ...p.services.map((s) => [s.name, s.kind, s.vm, endpointOf(s), s.status, String(s.restartCount ?? 0)]),
        ])
      : '  (none)',
  );
  out.push('', 'Running operations');
  out.push(
    p.operations.length
      ? table([
          ['ID', 'NAME', 'STATUS', 'RUNNING FOR'],
          ...p.operations.map((o) => [o.id, o.name, o.runtimeStatus, duration(now.getTime() - Date.parse(o.createdTime))]),
        ])
      : '  (none)',
  );
  return out.join('\n');
}

/** Recent operations, newest first. */
export function operationsTable(ops: Array<Pick<OperationStatus, 'id' | 'name' | 'runtimeStatus' | 'createdTime' | 'lastUpdatedTime'>>): string {
  if (ops.length === 0) return 'no operations yet';
  const sorted = [...ops].sort((a, b) => Date.parse(b.createdTime) - Date.parse(a.createdTime));
  return table([
    ['ID', 'NAME', 'STATUS', 'STARTED', 'DURATION'],
    ...sorted.map((o) => [o.id, o.name, o.runtimeStatus, o.createdTime, duration(Date.parse(o.lastUpdatedTime) - Date.parse(o.createdTime))]),
  ]);
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

// --- failures ---------------------------------------------------------------------------------

type BootServices = BootOutput['services'];

/** Strips the host's "Activity function 'x' failed:" wrapper and error-class prefix; keeps the cause. */
export function cleanReason(reason: string): { reason: string; activity?: string } {
  const m = /^(?:\w*Error: )?(?:Activity|Orchestrator) function '([^']+)' failed: (.*)$/s.exec(reason);
  return m ? { activity: m[1], reason: m[2]!.trim() } : { reason };
}

/** Everything blocked, transitively, by the given steps (from the services' `blockedBy`). */
export function blockedBy(roots: string[], services: BootServices): string[] {
  const out: string[] = [];
  const frontier = [...roots];
  const seen = new Set(roots);
  while (frontier.length) {
    const name = frontier.shift()!;
    for (const s of services) {
      if (s.blockedBy === name && !seen.has(s.name)) {
        seen.add(s.name);
        out.push(s.name);
        frontier.push(s.name);
      }
    }
  }
  return out;
}

/**
 * One entry per root cause: a VM (with the services placed on it that went down with it) or a
 * service (with its VM), the step, the cause, and what it blocked. Then what to do.
 */
export function failureReport(output: Pick<BootOutput, 'failures' | 'services'>): string {
  const { failures, services } = output;
  if (failures.length === 0) return '';
  const vmOf = new Map(services.map((s) => [s.name, s.vm]));
  const vmFailures = failures.filter((f) => f.kind === 'vm');
  const failedVms = new Set(vmFailures.map((f) => f.target));
  // Services that failed only because their VM did are shown under the VM, not as causes.
  const consequence = (f: Failure) => f.kind === 'service' && f.step === 'vm' && failedVms.has(vmOf.get(f.target) ?? '');
  const causes = [...vmFailures, ...failures.filter((f) => f.kind === 'service' && !consequence(f))];
  const lines: string[] = [`${causes.length} failure${causes.length === 1 ? '' : 's'}:`];
  for (const f of causes) {
    const { reason, activity } = cleanReason(f.reason);
    const where = f.kind === 'vm' ? `VM ${f.target}` : `service ${f.target}${vmOf.get(f.target) ? ` on ${vmOf.get(f.target)}` : ''}`;
    lines.push(`  ✖ ${where} — step ${f.step}${activity ? ` (${activity})` : ''}: ${reason}`);
    const down = f.kind === 'vm' ? failures.filter((x) => consequence(x) && vmOf.get(x.target) === f.target).map((x) => x.target) : [];
    if (down.length) lines.push(`      not started (placed on ${f.target}): ${down.join(', ')}`);
    const blocked = blockedBy(f.kind === 'vm' ? down : [f.target], services);
    if (blocked.length) lines.push(`      blocked (depend on it): ${blocked.join(', ')}`);
  }
  lines.push(
    'What to do: fix the cause above, then run the boot again; a single service restarts with',
    '`bootstrap-cli restart service NAME --wait`. Every step with its time: `bootstrap-cli history boot`.',
  );
  return lines.join('\n');
}

// --- timeline ---------------------------------------------------------------------------------

const EVENT_LABEL: Record<string, string> = {
  ExecutionStarted: 'started',
  ExecutionCompleted: 'completed',
  ExecutionFailed: 'failed',
  ExecutionTerminated: 'terminated',
  TaskCompleted: 'step done',
  TaskFailed: 'step failed',
  SubOrchestrationInstanceCompleted: 'sub-operation done',
  SubOrchestrationInstanceFailed: 'sub-operation failed',
  TimerFired: 'timer fired',
  EventRaised: 'event',
  ContinueAsNew: 'continued as new',
};

/** What a step acted on, when its result says so (service / vm / name fields). */
function subject(result: unknown): string {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return '';
  const r = result as Record<string, unknown>;
  for (const k of ['service', 'step', 'vm', 'name']) if (typeof r[k] === 'string') return r[k] as string;
  return '';
}

/** One step of an operation's timeline, as `history ID` prints it and the central UI shows it. */
export interface TimelineRow {
  /** HH:MM:SS.mmm (UTC) */
  time: string;
  /** From the operation's start. */
  offset: string;
  event: string;
  step: string;
  took: string;
  note: string;
  failed: boolean;
}

type TimelineOp = Pick<OperationStatus, 'id' | 'name' | 'runtimeStatus' | 'createdTime' | 'lastUpdatedTime'> & Partial<Pick<OperationStatus, 'input'>>;

/** The timeline's rows: time, offset from the start, event, step (and subject), duration, failure. */
export function timelineRows(op: TimelineOp, history: HistoryEvent[]): TimelineRow[] {
  const start = Date.parse(op.createdTime);
  return history.map((e) => {
    const t = Date.parse(e.Timestamp);
    const step = e.FunctionName ?? e.Name ?? '';
    // A boot's units report with events: their data names the VM or service.
    const about = subject(e.Result ?? e.Input);
    const took = e.ScheduledTime ? duration(t - Date.parse(e.ScheduledTime)) : '';
    const failed = e.EventType.endsWith('Failed');
    const note = failed ? `✖ ${cleanReason(e.Reason ?? e.Details ?? 'failed').reason}` : e.OrchestrationStatus && e.EventType !== 'ExecutionStarted' ? e.OrchestrationStatus : '';
    return { time: e.Timestamp.slice(11, 23), offset: duration(t - start), event: EVENT_LABEL[e.EventType] ?? e.EventType, step: about && about !== step ? `${step} ${about}` : step, took, note, failed };
  });
}

/** Who asked for an operation and why, when its input says so. */
export function requestedBy(op: Partial<Pick<OperationStatus, 'input'>>): { requestedBy: string; reason?: string } | undefined {
  const asked = op.input as { requestedBy?: string; reason?: string } | null | undefined;
  return asked?.requestedBy ? { requestedBy: asked.requestedBy, ...(asked.reason ? { reason: asked.reason } : {}) } : undefined;
}

/** One line per completed step: time, offset from the start, event, step (and subject), duration, failure. */
export function timeline(op: TimelineOp, history: HistoryEvent[]): string {
  const start = Date.parse(op.createdTime);
  const asked = requestedBy(op);
  const head =
    `${op.id} (${op.name}) ${op.runtimeStatus} — started ${op.createdTime}, ${duration(Date.parse(op.lastUpdatedTime) - start)}` +
    (asked ? `\nrequested by ${asked.requestedBy}${asked.reason ? `: ${asked.reason}` : ''}` : '');
  if (history.length === 0) return [head, '(the API returned no history events for this operation)'].join('\n');
  const rows = timelineRows(op, history);
  const failures = rows.filter((r) => r.failed).length;
  const tail = failures ? `${failures} failed step${failures === 1 ? '' : 's'}` : 'no failed steps';
  return [head, table([['TIME', '+', 'EVENT', 'STEP', 'TOOK', 'NOTE'], ...rows.map((r) => [r.time, r.offset, r.event, r.step, r.took, r.note])]), tail].join('\n');
}

// --- the API ----------------------------------------------------------------------------------

/** Base URL, key and a ready-to-paste curl line. The key is shown only when it was generated here. */
export function apiUsage(apiUrl: string, key: string, keyFromEnv: boolean): string {
  const keyRef = keyFromEnv ? '$LCM_API_KEY' : key;
  return [
    `LCM API: ${apiUrl}/api  (reference: ${apiUrl}/api/openapi.json)`,
    keyFromEnv ? 'key: the value of LCM_API_KEY' : `key: ${key}   (generated; set LCM_API_KEY to choose one)`,
    `central UI: ${apiUrl}/api/ui/  (open it in a browser and sign in with the key)`,
    'try:',
    `  curl -s -H "x-functions-key: ${keyRef}" ${apiUrl}/api/registry`,
    `  curl -s -X POST -H "x-functions-key: ${keyRef}" ${apiUrl}/api/services/NAME/restart`,
    ...(keyFromEnv ? [] : [`  export LCM_API_KEY=${key}`]),
    `  npx bootstrap-cli status${apiUrl === 'http://127.0.0.1:7071' ? '' : ` --url ${apiUrl}`}      # also: registry, restart, history (see --help)`,
  ].join('\n');
}

/** The one JSON object `deploy --json` prints. */
export function deploySummary(op: Pick<OperationStatus, 'id' | 'runtimeStatus' | 'output'>, apiUrl: string) {
  const out = (op.output ?? {}) as Partial<BootOutput>;
  return {
    instanceId: op.id,
    runtimeStatus: op.runtimeStatus,
    apiUrl,
    status: out.status ?? 'failed',
    vms: (out.vms ?? []).map((v) => ({ name: v.name, publicIp: v.publicIp ?? null, powerState: v.powerState ?? (v.status === 'failed' ? 'failed' : 'unknown') })),
    services: (out.services ?? []).map((s) => ({
      name: s.name,
      kind: s.kind,
      vm: s.vm,
      host: s.host ?? null,
      port: s.port ?? null,
      status: s.status,
      startedAt: s.startedAt ?? null,
      ...(s.blockedBy ? { blockedBy: s.blockedBy } : {}),
    })),
    failures: out.failures ?? [],
  };
}

/** A target's recorded events, newest first: restarts with who asked, why, when and how they ended. */
export function eventsTable(events: Array<{ at: string; type: string; outcome: string; requestedBy?: string; reason?: string; details?: Record<string, unknown> }>): string {
  if (events.length === 0) return '(no events recorded)';
  const rows: string[][] = [['TIME', 'EVENT', 'OUTCOME', 'BY', 'WHY / DETAIL']];
  for (const e of events) {
    const delay = typeof e.details?.delayInMs === 'number' ? `waits ${duration(e.details.delayInMs)}` : '';
    rows.push([e.at, e.type, e.outcome, e.requestedBy ?? '', [e.reason, delay].filter(Boolean).join('; ')]);
  }
  return table(rows);
}
