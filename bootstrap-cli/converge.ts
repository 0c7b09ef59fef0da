/**
 * The desired-state commands: `plan --against-live` (the dry run against the running platform),
 * `apply --config` (validate, write with the etag, follow the reconcile), `scale` and `move`.
 */
import type { Change } from '../functions/platform/reconcile-plan.js';
import type { ReconcileOutput } from '../functions/orchestrations/reconcile.js';
import { errorText, type LcmApi, type OperationStatus } from './api-client.js';
import { issuesText, readConfig } from './config.js';
import { CliError, EXIT, type CliIo } from './io.js';
import { apiOf, operationSucceeded, type ApiOptions } from './operator.js';

interface PlanBody {
  changes: Change[];
  unchanged: string[];
}

/** One line per change, then what stays as it is. */
export function changesTable(plan: PlanBody): string {
  if (plan.changes.length === 0) return `no change: the platform matches the desired state${plan.unchanged.length ? ` (${plan.unchanged.join(', ')})` : ''}`;
  const width = Math.max(...plan.changes.map((c) => c.action.length));
  const lines = plan.changes.map((c) => {
    const where = c.from !== undefined ? ` from ${c.from} to ${c.to}` : c.replicas ? ` ${c.replicas.from} -> ${c.replicas.to} replicas` : c.vm ? ` on ${c.vm}` : '';
    return `  ${c.action.padEnd(width)}  ${c.kind} ${c.name}${where}: ${c.reason}`;
  });
  return [`${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}:`, ...lines, ...(plan.unchanged.length ? [`unchanged: ${plan.unchanged.join(', ')}`] : [])].join('\n');
}

/** What a reconcile did, step by step. */
export function reconcileSummary(op: OperationStatus): string {
  const out = op.output as ReconcileOutput | null;
  if (!out || typeof out !== 'object') return `${operationSucceeded(op) ? '✔' : '✖'} reconcile ${op.runtimeStatus}${typeof op.output === 'string' ? `: ${op.output}` : ''}`;
  const lines = out.steps.map((s) => {
    const mark = s.outcome === 'failed' ? '✖' : s.outcome === 'skipped' ? '-' : '✔';
    return `  ${mark} ${s.op} ${s.service ?? ''}${s.container && s.container !== s.service ? ` (${s.container})` : ''} on ${s.vm}: ${s.outcome}${s.reason && s.outcome !== 'replaced' ? ` — ${s.reason}` : ''}`.replace('  ', '  ');
  });
  const head = `${out.status === 'succeeded' ? '✔' : '✖'} reconcile ${out.status}: ${out.changes.length} change${out.changes.length === 1 ? '' : 's'}, ${out.steps.length} step${out.steps.length === 1 ? '' : 's'} (desired state version ${out.version})`;
  return [head, ...lines, ...out.failures.map((f) => `  failure: ${f}`)].join('\n');
}

async function readValid(file: string) {
  const result = await readConfig(file);
  if (!result.ok) throw new CliError(issuesText(file, result.issues), EXIT.failed);
  return result.topology;
}

async function livePlan(api: LcmApi, topology?: unknown): Promise<PlanBody> {
  const res = await api.post<PlanBody>('desired-state/plan', topology === undefined ? undefined : { topology });
  if (res.status !== 200) throw new CliError(`POST /api/desired-state/plan: ${res.status} ${errorText(res.body)}`, EXIT.failed);
  return res.body;
}

/** `plan --against-live [--config FILE]`: the changes a reconcile would make now (the file's topology, or the stored one). */
export async function planAgainstLive(config: string | undefined, o: ApiOptions, io: CliIo): Promise<number> {
  const topology = config ? await readValid(config) : undefined;
  const plan = await livePlan(apiOf(o), topology);
  io.out(o.json ? JSON.stringify(plan, null, 2) : changesTable(plan));
  return EXIT.ok;
}

async function follow(api: LcmApi, id: string, o: ApiOptions, io: CliIo): Promise<number> {
  if (!o.json) io.err(`reconcile running: operation ${id}; waiting for it to finish...`);
  const final = await api.follow(id, { intervalMs: 500 });
  io.out(o.json ? JSON.stringify(final, null, 2) : reconcileSummary(final));
  return operationSucceeded(final) ? EXIT.ok : EXIT.failed;
}

/** `apply --config FILE`: validate, show the plan, write with the etag read, follow the reconcile. */
export async function apply(config: string, o: ApiOptions & { wait?: boolean }, io: CliIo): Promise<number> {
  const topology = await readValid(config);
  const api = apiOf(o);
  const current = await api.get<{ etag: string; version: number }>('desired-state');
  if (current.status !== 200) throw new CliError(`GET /api/desired-state: ${current.status} ${errorText(current.body)}`, EXIT.failed);
  const plan = await livePlan(api, topology);
  if (!o.json) io.out(changesTable(plan));
  const res = await api.put<{ version: number; changed: boolean; id?: string; error?: string }>('desired-state', { topology }, { 'if-match': `"${current.body.etag}"` });
  if (res.status === 412) throw new CliError(`apply ${config}: ${errorText(res.body)}`, EXIT.failed);
  if (res.status !== 202) throw new CliError(`apply ${config}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
  if (!res.body.changed) {
    if (!o.json) io.out(`desired state unchanged (version ${res.body.version})`);
    // An identical desired state may still differ from the platform: converge it.
    if (plan.changes.length === 0) {
      if (o.json) io.out(JSON.stringify({ ...res.body, plan }, null, 2));
      return EXIT.ok;
    }
    const started = await api.post<{ id: string }>('reconcile', { requestedBy: 'bootstrap-cli', reason: `apply ${config}` });
    if (started.status !== 202) throw new CliError(`POST /api/reconcile: ${started.status} ${errorText(started.body)}`, EXIT.failed);
    return o.wait === false ? EXIT.ok : follow(api, started.body.id, o, io);
  }
  if (!o.json) io.out(`desired state written: version ${res.body.version}`);
  if (o.wait === false) {
    if (o.json) io.out(JSON.stringify(res.body, null, 2));
    return EXIT.ok;
  }
  return follow(api, res.body.id!, o, io);
}

async function serviceChange(path: string, body: unknown, what: string, o: ApiOptions & { wait?: boolean }, io: CliIo): Promise<number> {
  const api = apiOf(o);
  const res = await api.post<{ id: string; version: number; changed: boolean }>(path, body);
  if (res.status !== 202) throw new CliError(`${what} refused (${res.status}): ${errorText(res.body)}`, res.status === 400 ? EXIT.failed : EXIT.failed);
  if (!o.json) io.out(`${what}: desired state version ${res.body.version}${res.body.changed ? '' : ' (already so)'}`);
  if (o.wait === false) {
    if (o.json) io.out(JSON.stringify(res.body));
    return EXIT.ok;
  }
  return follow(api, res.body.id, o, io);
}

/** `scale SERVICE N` */
export async function scale(service: string, replicas: string, o: ApiOptions & { wait?: boolean }, io: CliIo): Promise<number> {
  const n = Number(replicas);
  if (!/^\d+$/.test(replicas) || !Number.isInteger(n) || n < 1) throw new CliError(`scale ${service} ${replicas}: replicas must be a positive integer`, EXIT.usage);
  return serviceChange(`services/${encodeURIComponent(service)}/scale`, { replicas: n, requestedBy: 'bootstrap-cli' }, `scale ${service} to ${n}`, o, io);
}

/** `move SERVICE VM` */
export async function move(service: string, to: string, o: ApiOptions & { wait?: boolean }, io: CliIo): Promise<number> {
  return serviceChange(`services/${encodeURIComponent(service)}/move`, { to, requestedBy: 'bootstrap-cli' }, `move ${service} to ${to}`, o, io);
}
