/**
 * The operator commands against a running LCM API: status, registry, restart, provision-vm and
 * history. Each prints for people, or one JSON document with --json; exit 0 ok, 1 failed.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { BOOT_ID, WATCHDOG_ID, bootVmId, initVmId, provisionVmId, restartServiceId, restartVmId } from '../functions/platform/ids.js';
import { KAFKA } from '../functions/platform/topology.js';
import { ACTIVE_STATES, errorText, LcmApi, type ApiResponse, type OperationStatus } from './api-client.js';
import { CliError, EXIT, type CliIo } from './io.js';
import { cleanReason, eventsTable, operationsTable, registryTable, statusView, timeline, type PlatformView, type RegistryRow } from './views.js';

export interface ApiOptions {
  url: string;
  key?: string;
  json?: boolean;
}

export const apiOf = (o: ApiOptions) => new LcmApi(o.url, o.key);

function expect200<T>(res: ApiResponse<T>, what: string): T {
  if (res.status !== 200) throw new CliError(`${what}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
  return res.body;
}

export async function status(o: ApiOptions, io: CliIo): Promise<number> {
  const body = expect200(await apiOf(o).get<PlatformView>('platform'), 'GET /api/platform');
  io.out(o.json ? JSON.stringify(body, null, 2) : statusView(body));
  return EXIT.ok;
}

export async function registry(o: ApiOptions, io: CliIo): Promise<number> {
  const body = expect200(await apiOf(o).get<RegistryRow[]>('registry'), 'GET /api/registry');
  io.out(o.json ? JSON.stringify(body, null, 2) : registryTable(body));
  return EXIT.ok;
}

export const RESTART_KINDS = { service: 'services', app: 'apps', model: 'models', vm: 'vms' } as const;
export type RestartKind = keyof typeof RESTART_KINDS;

/** Did a finished operation do its job? Orchestrations report failures in `output.outcome` too. */
export function operationSucceeded(op: Pick<OperationStatus, 'runtimeStatus' | 'output'>): boolean {
  if (op.runtimeStatus !== 'Completed') return false;
  const out = op.output as { outcome?: string; status?: string } | null;
  if (out?.outcome !== undefined) return out.outcome !== 'failed' && out.outcome !== 'gave-up';
  if (out?.status !== undefined) return out.status === 'succeeded';
  return true;
}

/** One line on how an operation ended, with its reason when it failed. */
export function outcomeLine(op: OperationStatus): string {
  const out = op.output as { outcome?: string; reason?: string; host?: string; port?: number; publicIp?: string } | string | null;
  const ok = operationSucceeded(op);
  const parts = [`operation ${op.id} ${op.runtimeStatus}`];
  if (out && typeof out === 'object') {
    if (out.outcome) parts.push(out.outcome);
    if (out.host && out.port) parts.push(`at ${out.host}:${out.port}`);
    if (out.publicIp) parts.push(`public IP ${out.publicIp}`);
    if (!ok && out.reason) parts.push(`— ${cleanReason(out.reason).reason}`);
  } else if (typeof out === 'string' && !ok) {
    parts.push(`— ${cleanReason(out).reason}`);
  }
  return `${ok ? '✔' : '✖'} ${parts.join(': ').replace(/: —/, ' —')}`;
}

/** Handles the answer of a POST that starts an operation: 202 (follow with --wait), 409, 404, 400. */
async function startedOperation(api: LcmApi, res: ApiResponse, what: string, o: ApiOptions & { wait?: boolean }, io: CliIo): Promise<number> {
  const body = res.body as { id?: string; error?: string; operation?: { id: string; name: string; runtimeStatus: string } };
  if (res.status === 202 && body.id) {
    if (!o.wait) {
      if (o.json) io.out(JSON.stringify({ id: body.id, operationUrl: (body as { operationUrl?: string }).operationUrl }));
      else io.out(`${what} started: operation ${body.id}\nfollow it: bootstrap-cli history ${body.id}   (or pass --wait)`);
      return EXIT.ok;
    }
    if (!o.json) io.err(`${what} started: operation ${body.id}; waiting for it to finish...`);
    const final = await api.follow(body.id, { intervalMs: 500 });
    if (o.json) io.out(JSON.stringify(final, null, 2));
    else io.out(outcomeLine(final));
    return operationSucceeded(final) ? EXIT.ok : EXIT.failed;
  }
  if (o.json) {
    io.out(JSON.stringify({ status: res.status, ...(typeof res.body === 'object' && res.body ? res.body : { error: String(res.body) }) }));
    return EXIT.failed;
  }
  if (res.status === 409 && body.operation) {
    const op = body.operation;
    throw new CliError(`${errorText(body)}\n  running operation: ${op.id} (${op.name}, ${op.runtimeStatus}); follow it with \`bootstrap-cli history ${op.id}\``, EXIT.failed);
  }
  throw new CliError(`${what} refused (${res.status}): ${errorText(res.body)}`, EXIT.failed);
}

export async function restart(kind: string, name: string, o: ApiOptions & { wait?: boolean; reason?: string }, io: CliIo): Promise<number> {
  if (!(kind in RESTART_KINDS)) {
    throw new CliError(`restart: unknown kind "${kind}": use one of ${Object.keys(RESTART_KINDS).join(', ')} (e.g. \`bootstrap-cli restart service authentication\`)`, EXIT.usage);
  }
  const api = apiOf(o);
  const res = await api.post(`${RESTART_KINDS[kind as RestartKind]}/${encodeURIComponent(name)}/restart`, {
    requestedBy: 'bootstrap-cli',
    ...(o.reason ? { reason: o.reason } : {}),
  });
  return startedOperation(api, res, `restart of ${kind} ${name}`, o, io);
}

export async function provisionVm(o: ApiOptions & { file: string; wait?: boolean }, io: CliIo): Promise<number> {
  let spec: unknown;
  try {
    spec = parseYaml(await readFile(o.file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${o.file}: no such file (pass the VM spec with --file FILE)` : `${o.file}: not a YAML or JSON VM spec (${(e as Error).message.split('\n')[0]})`, EXIT.usage);
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new CliError(`${o.file}: a VM spec is a mapping like {name: vm-extra, size: Standard_B2s, sshKeySecret: VM_SSH_PRIVATE_KEY}`, EXIT.usage);
  }
  const api = apiOf(o);
  const res = await api.post('vms', spec);
  const name = (spec as { name?: unknown }).name;
  return startedOperation(api, res, `provisioning of VM ${typeof name === 'string' ? name : '(unnamed)'}`, o, io);
}

/** The fixed instance ids (one per target) an LCM with this platform may have run. */
export function knownOperationIds(platform: Pick<PlatformView, 'vms' | 'services' | 'operations'>): string[] {
  const ids = new Set<string>([BOOT_ID, WATCHDOG_ID, ...platform.operations.map((op) => op.id)]);
  for (const vm of platform.vms) for (const id of [bootVmId, provisionVmId, initVmId, restartVmId]) ids.add(id(vm.name));
  for (const s of platform.services) if (s.name !== KAFKA) ids.add(restartServiceId(s.name));
  return [...ids];
}

export async function history(instance: string | undefined, o: ApiOptions & { limit?: string; service?: string }, io: CliIo): Promise<number> {
  const api = apiOf(o);
  if (o.service) {
    const res = await api.get<{ events: Parameters<typeof eventsTable>[0] }>(`services/${encodeURIComponent(o.service)}`);
    if (res.status === 404) throw new CliError(`no service "${o.service}"`, EXIT.failed);
    const body = expect200(res, `GET /api/services/${o.service}`);
    io.out(o.json ? JSON.stringify(body.events, null, 2) : eventsTable(body.events));
    return EXIT.ok;
  }
  if (instance) {
    const res = await api.get<OperationStatus>(`operations/${encodeURIComponent(instance)}?history=true`);
    if (res.status === 404) throw new CliError(`no operation "${instance}": list recent ones with \`bootstrap-cli history\``, EXIT.failed);
    if (res.status !== 200 && res.status !== 202) throw new CliError(`GET /api/operations/${instance}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
    io.out(o.json ? JSON.stringify(res.body, null, 2) : timeline(res.body, res.body.history ?? []));
    return EXIT.ok;
  }
  // No list route: probe the fixed ids of every target the platform has, plus what runs now.
  const platform = expect200(await api.get<PlatformView>('platform'), 'GET /api/platform');
  const found: OperationStatus[] = [];
  const ids = knownOperationIds(platform);
  for (let i = 0; i < ids.length; i += 8) {
    const batch = await Promise.all(ids.slice(i, i + 8).map((id) => api.get<OperationStatus>(`operations/${encodeURIComponent(id)}`)));
    for (const res of batch) if (res.status === 200 || res.status === 202) found.push(res.body);
  }
  found.sort((a, b) => Date.parse(b.createdTime) - Date.parse(a.createdTime));
  const limit = Number(o.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit ${o.limit}: must be a positive integer`, EXIT.usage);
  const shown = found.slice(0, limit);
  if (o.json) {
    io.out(JSON.stringify(shown.map(({ id, name, kind, target, runtimeStatus, createdTime, lastUpdatedTime }) => ({ id, name, kind, target, runtimeStatus, createdTime, lastUpdatedTime })), null, 2));
  } else {
    io.out(operationsTable(shown));
    if (shown.length) io.out(`\none operation's timeline: bootstrap-cli history ${shown[0]!.id}`);
  }
  return EXIT.ok;
}

export { ACTIVE_STATES };

/**
 * `logs SERVICE`: the service's container logs (or its build logs), read from its VMs on demand,
 * secrets redacted: every replica's, each under a header naming its replica, container and VM, or
 * one replica's with --replica.
 */
export async function logs(service: string, o: ApiOptions & { lines?: string; build?: boolean; replica?: string }, io: CliIo): Promise<number> {
  const lines = o.lines ?? '100';
  if (!/^\d+$/.test(lines) || Number(lines) < 1 || Number(lines) > 1000) throw new CliError(`--lines ${lines}: must be a number from 1 to 1000`, EXIT.usage);
  if (o.replica !== undefined && !/^\d+$/.test(o.replica)) throw new CliError(`--replica ${o.replica}: must be a replica number (0 is the first)`, EXIT.usage);
  const path = `services/${encodeURIComponent(service)}/logs?lines=${lines}${o.build ? '&build=true' : ''}${o.replica !== undefined ? `&replica=${o.replica}` : ''}`;
  const body = expect200(await apiOf(o).get<{ service: string; vm: string; log: string; text: string }>(path), `GET /api/${path}`);
  if (o.json) io.out(JSON.stringify(body, null, 2));
  else io.out(body.text.trimEnd() || `(the ${body.log} log of ${body.service} on VM ${body.vm} is empty)`);
  return EXIT.ok;
}

/** `terminate OPERATION`: stop a running operation (needs the operators' key). */
export async function terminate(id: string, o: ApiOptions & { reason?: string }, io: CliIo): Promise<number> {
  const res = await apiOf(o).post<{ id: string; error?: string }>(`operations/${encodeURIComponent(id)}/terminate`, {
    requestedBy: 'bootstrap-cli',
    ...(o.reason ? { reason: o.reason } : {}),
  });
  if (res.status !== 202) throw new CliError(`terminate ${id}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
  io.out(o.json ? JSON.stringify(res.body) : `operation ${id}: terminating`);
  return EXIT.ok;
}

/** `reset-host-key VM`: forget a recreated VM's pinned SSH host key (needs the operators' key). */
export async function resetHostKey(vm: string, o: ApiOptions, io: CliIo): Promise<number> {
  const res = await apiOf(o).post<{ vm: string; reset: boolean; previousFingerprint: string | null }>(`vms/${encodeURIComponent(vm)}/reset-host-key`, { requestedBy: 'bootstrap-cli' });
  if (res.status !== 200) throw new CliError(`reset-host-key ${vm}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
  if (o.json) io.out(JSON.stringify(res.body));
  else io.out(res.body.reset ? `VM ${vm}: pinned host key ${res.body.previousFingerprint} forgotten; the next connection pins the key it presents` : `VM ${vm}: no host key was pinned`);
  return EXIT.ok;
}
