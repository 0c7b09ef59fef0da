/**
 * The desired-state API (operators' key): read and replace the desired state with an etag, dry-run
 * the reconcile against the live actual state, start the reconcile, scale and move a service.
 * Every write validates first and changes nothing when it refuses.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { O } from '../activities/contracts.js';
import { readActualState } from '../activities/actual-state.js';
import { centralDb } from '../deps.js';
import { isActive, statusOf } from '../durable-client.js';
import { RECONCILE_ID } from '../platform/ids.js';
import { planReconcile } from '../platform/reconcile-plan.js';
import { DNS_LABEL, KAFKA, MAX_REPLICAS, type Topology } from '../platform/topology.js';
import { validateTopology, type TopologyIssue } from '../platform/validate.js';
import type { ReconcileInput } from '../orchestrations/reconcile.js';
import { operationLinks } from './operations.js';
import { badRequest, HttpError, json, jsonBody, nameParam, notFound } from './respond.js';

const quoted = (etag: string) => `"${etag}"`;

function invalid(issues: TopologyIssue[], what = 'invalid topology'): HttpError {
  return badRequest(`${what} (${issues.length} error${issues.length === 1 ? '' : 's'})`, { issues: issues.map(({ path, message }) => ({ path, message })) });
}

/** `{topology}` with nothing else; `optional` allows an empty body. */
async function topologyBody(request: HttpRequest, optional: boolean): Promise<unknown> {
  const body = await jsonBody(request, optional);
  if (body === undefined) return undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object like {"topology": {...}}');
  const extra = Object.keys(body).filter((k) => k !== 'topology');
  if (extra.length > 0) throw badRequest(`unknown field "${extra[0]!.slice(0, 40)}": the body holds only "topology"`);
  const topology = (body as { topology?: unknown }).topology;
  if (topology === undefined) {
    if (optional) return undefined;
    throw invalid([{ path: 'topology', message: 'is required' }]);
  }
  return topology;
}

function validated(raw: unknown): Topology {
  const result = validateTopology(raw);
  if (!result.ok) throw invalid(result.issues);
  return result.value;
}

/** Starts the reconcile, or answers with the one running (which goes again when the desired state changed under it). */
export async function startOrJoinReconcile(context: InvocationContext, request: HttpRequest, input: ReconcileInput): Promise<{ id: string; operationUrl: string; joined: boolean }> {
  const client = df.getClient(context);
  const links = () => ({ id: RECONCILE_ID, ...operationLinks(request, RECONCILE_ID) });
  if (isActive(await statusOf(client, RECONCILE_ID))) return { ...links(), joined: true };
  try {
    await client.startNew(O.reconcile, { instanceId: RECONCILE_ID, input });
    return { ...links(), joined: false };
  } catch (e) {
    // Another request started it between our read and our start: join it.
    if (isActive(await statusOf(client, RECONCILE_ID))) return { ...links(), joined: true };
    throw e;
  }
}

const accepted = (body: Record<string, unknown>, operationUrl?: string): HttpResponseInit =>
  json(202, body, operationUrl ? { location: operationUrl, 'retry-after': '2' } : {});

/** GET /api/desired-state */
export async function getDesiredState(): Promise<HttpResponseInit> {
  const current = await (await centralDb()).readDesiredWithEtag();
  if (!current) throw notFound('the central database holds no desired state yet: seed it with `bootstrap-cli deploy`');
  const { version, updatedAt, etag, topology } = current;
  return json(200, { version, updatedAt, etag, topology }, { etag: quoted(etag) });
}

/** PUT /api/desired-state with If-Match: validate, write if the etag is current, reconcile. */
export async function putDesiredState(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const ifMatch = request.headers.get('if-match');
  if (!ifMatch || ifMatch.trim() === '') {
    throw new HttpError(428, 'an If-Match header with the etag of the desired state read last is required (GET /api/desired-state gives it)');
  }
  if (ifMatch.trim() === '*') throw new HttpError(428, 'If-Match: * is not accepted: send the etag of the desired state you edited');
  const topology = validated(await topologyBody(request, false));
  const db = await centralDb();
  const result = await db.writeTopologyIfMatch(topology, ifMatch);
  if (result.outcome === 'stale') {
    if (!result.current) throw notFound('the central database holds no desired state yet: seed it with `bootstrap-cli deploy`');
    const { version, updatedAt, etag, topology: t } = result.current;
    throw new HttpError(412, `the desired state changed since etag ${ifMatch.trim()} (now version ${version}): nothing was written; merge your edit into the current one and try again`, {
      current: { version, updatedAt, etag, topology: t },
    });
  }
  const { version, etag } = result.current;
  if (result.outcome === 'unchanged') return json(202, { version, etag, changed: false }, { etag: quoted(etag) });
  const op = await startOrJoinReconcile(context, request, { requestedBy: 'api', reason: `desired state version ${version}` });
  return json(202, { version, etag, changed: true, id: op.id, operationUrl: op.operationUrl }, { etag: quoted(etag), location: op.operationUrl, 'retry-after': '2' });
}

/** The VMs to look at for a plan: the desired ones, plus those of the stored state (what may have to stop). */
function vmsToRead(desired: Topology, stored: Topology | undefined) {
  const out = new Map(desired.vms.map((vm) => [vm.name, vm]));
  for (const vm of stored?.vms ?? []) if (!out.has(vm.name)) out.set(vm.name, vm);
  return [...out.values()].map(({ name, adminUser, sshKeySecret }) => ({ name, adminUser, sshKeySecret }));
}

/** The live actual state for a desired topology, and the plan: the dry run's and the CLI's view. */
export async function livePlan(desired: Topology, stored: Topology | undefined) {
  const azure = { subscriptionId: desired.azure.subscriptionId, resourceGroup: desired.azure.resourceGroup, location: desired.azure.location };
  const actual = await readActualState({
    azure,
    vms: vmsToRead(desired, stored),
    sources: [...desired.services.map((s) => s.source), ...(desired.kafka ? [desired.kafka.source] : [])],
  });
  return planReconcile(desired, actual);
}

/** POST /api/desired-state/plan: the changes a reconcile would make, acting on nothing. */
export async function postPlan(request: HttpRequest): Promise<HttpResponseInit> {
  const raw = await topologyBody(request, true);
  const stored = (await (await centralDb()).readDesiredWithEtag())?.topology;
  const desired = raw === undefined ? stored : validated(raw);
  if (!desired) throw notFound('the central database holds no desired state yet: seed it with `bootstrap-cli deploy`, or send {"topology": ...}');
  const plan = await livePlan(desired, stored);
  return json(200, { changes: plan.changes, unchanged: plan.unchanged });
}

/** `{}` or `{reason?, requestedBy?}` plus the fields a route takes. */
async function objectBody(request: HttpRequest, fields: string[]): Promise<Record<string, unknown>> {
  const body = await jsonBody(request, true);
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body must be a JSON object with ${fields.join(', ')}`);
  for (const [key, value] of Object.entries(body)) {
    if (!fields.includes(key) && key !== 'reason' && key !== 'requestedBy') throw badRequest(`unknown field "${key.slice(0, 40)}": allowed are ${[...fields, 'reason', 'requestedBy'].join(', ')}`);
    if ((key === 'reason' || key === 'requestedBy') && (typeof value !== 'string' || value.length > 300)) throw badRequest(`${key} must be a string of at most 300 characters`);
  }
  return body as Record<string, unknown>;
}

/** POST /api/reconcile */
export async function postReconcile(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await objectBody(request, []);
  if (!(await (await centralDb()).readDesiredWithEtag())) throw new HttpError(409, 'the central database holds no topology yet: seed it with `bootstrap-cli deploy`');
  const op = await startOrJoinReconcile(context, request, { requestedBy: (body.requestedBy as string) ?? 'api', reason: (body.reason as string) ?? 'requested through the API' });
  return accepted({ id: op.id, operationUrl: op.operationUrl, joined: op.joined }, op.operationUrl);
}

/**
 * Changes one service of the desired state, validates the whole result (ports on the target VM,
 * known VMs), writes it and reconciles. Nothing is written when the result is invalid.
 */
async function changeService(request: HttpRequest, context: InvocationContext, name: string, change: (t: Topology) => Topology, what: string): Promise<HttpResponseInit> {
  const db = await centralDb();
  let issues: TopologyIssue[] | undefined;
  let missing = false;
  const result = await db.updateTopology((current) => {
    issues = undefined;
    if (!current.services.some((s) => s.name === name)) {
      missing = true;
      return undefined;
    }
    const checked = validateTopology(change(current));
    if (!checked.ok) {
      issues = checked.issues;
      return undefined;
    }
    return checked.value;
  });
  if (missing) throw notFound(`no service named "${name}" in the desired state`);
  if (issues) throw invalid(issues, `cannot ${what}`);
  const op = await startOrJoinReconcile(context, request, { requestedBy: 'api', reason: `${what} (desired state version ${result.version})` });
  return accepted({ id: op.id, operationUrl: op.operationUrl, version: result.version, changed: result.changed }, op.operationUrl);
}

/** POST /api/services/{name}/scale {replicas} */
export async function postScale(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  const body = await objectBody(request, ['replicas']);
  const replicas = body.replicas;
  if (!Number.isInteger(replicas) || (replicas as number) < 1 || (replicas as number) > MAX_REPLICAS) {
    throw badRequest(`replicas must be an integer from 1 to ${MAX_REPLICAS}`, { issues: [{ path: 'replicas', message: `must be an integer from 1 to ${MAX_REPLICAS}` }] });
  }
  if (name === KAFKA) throw badRequest('the Kafka broker has one container; it cannot be scaled');
  return changeService(
    request,
    context,
    name,
    (t) => ({ ...t, services: t.services.map((s) => (s.name === name ? { ...s, replicas: replicas as number } : s)) }),
    `scale "${name}" to ${replicas as number} replica(s)`,
  );
}

/** POST /api/services/{name}/move {to}: all of the service's containers to VM `to`. */
export async function postMove(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  const body = await objectBody(request, ['to']);
  const to = body.to;
  if (typeof to !== 'string' || !DNS_LABEL.test(to)) throw badRequest('to must name a VM (a lowercase DNS label)', { issues: [{ path: 'to', message: 'must name a VM of the desired state' }] });
  if (name === KAFKA) throw badRequest('moving the Kafka broker is not supported: its data lives on its VM');
  const stored = (await (await centralDb()).readDesiredWithEtag())?.topology;
  if (stored && !stored.vms.some((vm) => vm.name === to)) throw notFound(`no VM named "${to}" in the desired state`);
  return changeService(
    request,
    context,
    name,
    (t) => ({
      ...t,
      services: t.services.map((s) => {
        if (s.name !== name) return s;
        const { vms: _spread, ...rest } = s;
        return { ...rest, vm: to };
      }),
    }),
    `move "${name}" to VM "${to}"`,
  );
}
