/**
 * The LCM's HTTP API (authLevel function): what monitoring and operators call. Reads go to the
 * central database; long work starts an orchestration and answers 202 at once.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { O } from '../activities/contracts.js';
import { centralDb } from '../deps.js';
import { instancesOf } from '../cloud/central-db.js';
import { BOOT_ID, describeOperation, initVmId, provisionVmId, restartServiceId, restartVmId } from '../platform/ids.js';
import type { ServiceKind, Topology } from '../platform/topology.js';
import { formatIssue, validateVmAddition } from '../platform/validate.js';
import { progressStateOf, type BootProgress } from '../platform/boot-state.js';
import type { RestartServiceInput } from '../orchestrations/restart-service.js';
import type { VmOperationInput } from '../orchestrations/vm-operations.js';
import { isActive, statusOf } from '../durable-client.js';
import { operationLinks, startSingleton } from './operations.js';
import { shownStatus } from './boot-progress.js';
import { badRequest, conflict, HttpError, json, jsonBody, nameParam, notFound, operationBody } from './respond.js';

async function topologyOrFail(): Promise<Topology> {
  const topology = await (await centralDb()).readTopology();
  if (!topology) throw new HttpError(409, 'the central database holds no topology yet: seed it with `bootstrap-cli deploy`');
  return topology;
}

export async function postBoot(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await operationBody(request);
  await topologyOrFail();
  return startSingleton(df.getClient(context), request, O.boot, BOOT_ID, { requestedBy: body.requestedBy ?? 'api' }, 'a boot');
}

export async function getRegistry(): Promise<HttpResponseInit> {
  const entries = await (await centralDb()).listEntries();
  return json(
    200,
    entries.map((e) => {
      const { service, kind, vm, host, port, status, updatedAt } = e;
      return { service, kind, vm, host, port, status, updatedAt, instances: instancesOf(e).filter((i) => i.status === 'running').map((i) => ({ vm: i.vm, host: i.host, port: i.port })) };
    }),
  );
}

export async function getRegistryEntry(request: HttpRequest): Promise<HttpResponseInit> {
  const service = nameParam(request, 'service');
  const entry = await (await centralDb()).getEntry(service);
  if (!entry) throw notFound(`no registry entry for "${service}": it has not been started yet, or no such service exists`);
  // Every healthy instance (replicas; both sides of a move while it runs); the fields above stay one of them.
  const instances = instancesOf(entry)
    .filter((i) => i.status === 'running')
    .map(({ vm, container, replica, host, port, status, imageTag, startedAt }) => ({ vm, container, replica, host, port, status, imageTag, startedAt, url: `http://${host}:${port}` }));
  return json(200, { ...entry, instances });
}

export async function getVms(): Promise<HttpResponseInit> {
  const db = await centralDb();
  const [topology, records] = await Promise.all([db.readTopology(), db.listVms()]);
  const byName = new Map(records.map((r) => [r.name, r]));
  return json(
    200,
    (topology?.vms ?? []).map((vm) => {
      const r = byName.get(vm.name);
      return { name: vm.name, size: vm.size, adminUser: vm.adminUser, publicIp: r?.publicIp, privateIp: r?.privateIp, powerState: r?.powerState ?? 'unknown', dockerReady: r?.dockerReady ?? false, updatedAt: r?.updatedAt };
    }),
  );
}

export async function postVm(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await jsonBody(request);
  const topology = await topologyOrFail();
  const result = validateVmAddition(topology, body);
  if (!result.ok) {
    const duplicate = result.issues.find((i) => i.path === 'name' && /already exists/.test(i.message));
    if (duplicate) throw conflict(formatIssue(duplicate));
    throw badRequest('invalid VM spec', { issues: result.issues.map(formatIssue) });
  }
  const vm = result.value;
  const input: VmOperationInput = { vm: vm.name, requestedBy: 'api', spec: vm };
  return startSingleton(df.getClient(context), request, O.provisionVm, provisionVmId(vm.name), input, `provisioning of VM "${vm.name}"`);
}

async function vmOperation(request: HttpRequest, context: InvocationContext, orchestration: string, id: (vm: string) => string, what: string) {
  const name = nameParam(request, 'name');
  const body = await operationBody(request);
  const topology = await topologyOrFail();
  if (!topology.vms.some((vm) => vm.name === name)) throw notFound(`no VM named "${name}" in the desired state`);
  const input: VmOperationInput = { vm: name, requestedBy: body.requestedBy ?? 'api' };
  return startSingleton(df.getClient(context), request, orchestration, id(name), input, `${what} of VM "${name}"`);
}

export const postVmInit = (request: HttpRequest, context: InvocationContext) => vmOperation(request, context, O.initVm, initVmId, 'initialization');
export const postVmRestart = (request: HttpRequest, context: InvocationContext) => vmOperation(request, context, O.restartVm, restartVmId, 'a restart');

export async function getService(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  const db = await centralDb();
  const topology = await topologyOrFail();
  const spec = topology.services.find((s) => s.name === name);
  if (!spec) throw notFound(`no service named "${name}"`);
  const [entry, events, restart] = await Promise.all([
    db.getEntry(name),
    db.listEvents({ target: name, limit: 20 }),
    statusOf(df.getClient(context), restartServiceId(name)),
  ]);
  const { secretEnv, ...publicSpec } = spec;
  return json(200, {
    name,
    spec: { ...publicSpec, secretEnv: Object.keys(secretEnv) },
    state: entry?.status ?? 'not started',
    endpoint: entry ? { host: entry.host, port: entry.port, url: `http://${entry.host}:${entry.port}` } : null,
    imageTag: entry?.imageTag,
    startedAt: entry?.startedAt,
    restartCount: entry?.restartCount ?? 0,
    lastRestartAt: entry?.lastRestartAt ?? null,
    runningOperation: isActive(restart) ? { id: restart!.instanceId, ...operationLinks(request, restart!.instanceId) } : null,
    events,
  });
}

const ROUTE_KIND: Record<string, ServiceKind> = { services: 'microservice', apps: 'app', models: 'model' };
const KIND_ROUTE: Record<ServiceKind, string> = { microservice: 'services', app: 'apps', model: 'models' };

/** POST /api/{services|apps|models}/{name}/restart */
export function postRestart(routeKind: keyof typeof ROUTE_KIND) {
  const kind = ROUTE_KIND[routeKind]!;
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const name = nameParam(request, 'name');
    const body = await operationBody(request);
    const topology = await topologyOrFail();
    const spec = topology.services.find((s) => s.name === name);
    if (!spec) throw notFound(`no ${kind} named "${name}"`);
    if (spec.kind !== kind) {
      throw badRequest(`"${name}" is a ${spec.kind}, not ${kind === "app" ? "an" : "a"} ${kind}: use POST /api/${KIND_ROUTE[spec.kind]}/${name}/restart`);
    }
    const client = df.getClient(context);
    const boot = await statusOf(client, BOOT_ID);
    if (isActive(boot)) {
      const progress = (await shownStatus(client, boot!)) as BootProgress | undefined;
      if (progressStateOf(progress, 'services', name) !== 'running') {
        throw conflict(`the running boot has not started "${name}" yet; it will start it`, {
          operation: { id: BOOT_ID, name: boot!.name, runtimeStatus: boot!.runtimeStatus, ...operationLinks(request, BOOT_ID) },
        });
      }
    }
    const input: RestartServiceInput = {
      service: name,
      kind,
      requestedBy: body.requestedBy ?? 'api',
      reason: body.reason ?? 'requested through the API',
    };
    return startSingleton(client, request, O.restartService, restartServiceId(name), input, `a restart of "${name}"`);
  };
}

function operationIdParam(request: HttpRequest): string {
  const id = request.params.id ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(id)) throw badRequest(`"${id.slice(0, 80)}" is not an operation id`);
  return id;
}

export async function getOperation(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = operationIdParam(request);
  const showHistory = request.query.get('history') === 'true';
  const client = df.getClient(context);
  const status = await statusOf(client, id, showHistory);
  if (!status) throw notFound(`no operation "${id}"`);
  return json(isActive(status) ? 202 : 200, {
    id: status.instanceId,
    name: status.name,
    ...describeOperation(id),
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    // Inputs carry names and references only (never secrets): who asked and why.
    input: status.input ?? null,
    customStatus: await shownStatus(client, status),
    output: status.output ?? null,
    ...(showHistory ? { history: status.history ?? [] } : {}),
  });
}

export async function getPlatform(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const db = await centralDb();
  const client = df.getClient(context);
  const [topology, entries, vms, running] = await Promise.all([
    db.readTopology(),
    db.listEntries(),
    db.listVms(),
    client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending] }),
  ]);
  const entryOf = new Map(entries.map((e) => [e.service, e]));
  const vmOf = new Map(vms.map((v) => [v.name, v]));
  return json(200, {
    name: topology?.name ?? null,
    vms: (topology?.vms ?? []).map((vm) => ({ name: vm.name, powerState: vmOf.get(vm.name)?.powerState ?? 'unknown', publicIp: vmOf.get(vm.name)?.publicIp })),
    services: [
      ...(topology?.kafka ? [{ name: 'kafka', kind: 'broker', vm: topology.kafka.vm }] : []),
      ...(topology?.services ?? []).map((s) => ({ name: s.name, kind: s.kind, vm: s.vm })),
    ].map((s) => {
      const e = entryOf.get(s.name);
      return { ...s, status: e?.status ?? 'not started', host: e?.host, port: e?.port, restartCount: e?.restartCount ?? 0 };
    }),
    // A boot group's alarm clock (orchestrations/boot-tick.ts) is no operation: it may wait out its
    // timer for up to 8 minutes after the boot ended, doing nothing.
    operations: running
      .map((s) => ({ id: s.instanceId, name: s.name, runtimeStatus: s.runtimeStatus, createdTime: s.createdTime, ...describeOperation(s.instanceId) }))
      .filter((o) => o.kind !== 'boot-tick'),
  });
}

/** POST /api/operations/{id}/terminate: operators only (a host key; no function key is issued for it). */
export async function postTerminateOperation(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = operationIdParam(request);
  const body = await operationBody(request);
  const client = df.getClient(context);
  const status = await statusOf(client, id);
  if (!status) throw notFound(`no operation "${id}"`);
  if (!isActive(status)) throw conflict(`operation "${id}" is not running (${status.runtimeStatus}): nothing to terminate`);
  await client.terminate(id, body.reason ?? `terminated through the API by ${body.requestedBy ?? 'an operator'}`);
  return json(202, { id, terminating: true, ...operationLinks(request, id) }, { location: operationLinks(request, id).operationUrl });
}

/**
 * POST /api/vms/{name}/reset-host-key: forget the VM's pinned SSH host key and trust the key the
 * next connection is shown, for a VM whose key changed outside the LCM (the LCM pins the key of a
 * VM it creates itself, before creating it). Operators only: no function key is issued for it,
 * and resetting a pin is what an attacker in the middle would want.
 */
export async function postResetHostKey(request: HttpRequest): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  await operationBody(request);
  const topology = await topologyOrFail();
  if (!topology.vms.some((vm) => vm.name === name)) throw notFound(`no VM named "${name}" in the desired state`);
  const db = await centralDb();
  const previous = await db.getHostKey(name);
  const reset = await db.resetHostKey(name);
  return json(200, { vm: name, reset, previousFingerprint: previous?.fingerprint ?? null });
}
