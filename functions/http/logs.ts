/**
 * GET /api/services/{name}/logs: a service's container logs, one per replica (or one replica's with
 * `?replica=<n>`; its image build logs with `?build=true`) read on demand over SSH from their VMs,
 * with every known secret value redacted. Failures in
 * orchestrations only say where to read logs; this route is where they are read (operators' key).
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { centralDb, settings, withVm } from '../deps.js';
import { redactSecrets, type KnownSecret } from '../platform/redact.js';
import { instancesOf } from '../cloud/central-db.js';
import { currentPlacements } from '../platform/replicas.js';
import { KAFKA, type Topology } from '../platform/topology.js';
import { badRequest, HttpError, json, nameParam, notFound } from './respond.js';

const MAX_LINES = 1000;

/** Every secret value the platform runs with that a log could print: services' secretEnv settings, the monitoring and service keys. */
function knownSecrets(topology: Topology): KnownSecret[] {
  const settingsNames = new Set<string>([settings().monitoringKeySetting, settings().serviceKeySetting]);
  for (const s of topology.services) for (const setting of Object.values(s.secretEnv)) settingsNames.add(setting);
  for (const vm of topology.vms) settingsNames.add(vm.sshKeySecret);
  const out: KnownSecret[] = [];
  for (const setting of settingsNames) {
    const value = process.env[setting];
    if (!value) continue;
    out.push({ setting, value });
    // A multi-line secret (a private key) is also redacted line by line.
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= 16 && !line.startsWith('-----')) out.push({ setting, value: line.trim() });
  }
  return out;
}

/** One log as the route answers it: a replica's container log, or one VM's latest build log (its replicas share the image). */
export interface ServiceLog {
  vm: string;
  /** Container logs: the replica and its container. */
  replica?: number;
  container?: string;
  /** Build logs: the replicas on this VM. */
  replicas?: number[];
  text: string;
  /** Set instead of a log when this one could not be read (the others still are). */
  error?: string;
}

interface Target {
  replica: number;
  vm: string;
  container: string;
}

/** The header of one log among several, like `tail` prints between files. */
const header = (l: ServiceLog) =>
  l.container !== undefined ? `==> replica ${l.replica}: ${l.container} on ${l.vm} <==` : `==> build on ${l.vm} (replica${l.replicas!.length > 1 ? 's' : ''} ${l.replicas!.join(', ')}) <==`;

/**
 * Every replica's log by default (each labelled with its replica, container and VM), or one replica's
 * with `?replica=<n>`: an operator reading a failing service should not have to guess which
 * container failed. With several, `text` holds them all, each under a header; `logs` has them apart.
 */
export async function getServiceLogs(request: HttpRequest): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  const linesParam = request.query.get('lines');
  const lines = linesParam === null ? 100 : Number(linesParam);
  if (!Number.isInteger(lines) || lines < 1 || lines > MAX_LINES) throw badRequest(`lines must be an integer from 1 to ${MAX_LINES}`);
  const build = request.query.get('build') === 'true';
  const replicaParam = request.query.get('replica');
  const db = await centralDb();
  const topology = await db.readTopology();
  if (!topology) throw new HttpError(409, 'the central database holds no topology yet: seed it with `bootstrap-cli deploy`');
  const spec = topology.services.find((s) => s.name === name);
  let targets: Target[];
  if (name === KAFKA && topology.kafka) targets = [{ replica: 0, vm: topology.kafka.vm, container: KAFKA }];
  else if (spec) {
    // Where each replica runs now: a replica mid-move is read where it still serves.
    const registered = instancesOf(await db.getEntry(name)).filter((i) => topology.vms.some((v) => v.name === i.vm));
    targets = currentPlacements(spec, registered).map((p) => ({ replica: p.replica, vm: p.vm, container: p.container }));
  } else throw notFound(`no service named "${name}"`);
  if (replicaParam !== null) {
    const n = Number(replicaParam);
    if (replicaParam.trim() === '' || !Number.isInteger(n) || n < 0 || n >= targets.length) {
      throw badRequest(`replica must be an integer from 0 to ${targets.length - 1} ("${name}" has ${targets.length} replica${targets.length > 1 ? 's' : ''})`);
    }
    targets = [targets[n]!];
  }
  const secrets = knownSecrets(topology);
  const records = await db.listVms();
  const access = (vmName: string) => {
    const vmSpec = topology.vms.find((v) => v.name === vmName);
    const record = records.find((v) => v.name === vmName);
    if (!vmSpec || !record?.publicIp || !record.privateIp) throw new HttpError(409, `VM "${vmName}" of "${name}" has no known address yet: it has not been provisioned`);
    return { name: vmName, host: record.publicIp, privateIp: record.privateIp, adminUser: vmSpec.adminUser, sshKeySecret: vmSpec.sshKeySecret };
  };
  // Build logs: one per VM (the image is built once per VM); container logs: one per replica.
  const wanted: Array<Omit<ServiceLog, 'text'>> = build
    ? [...new Set(targets.map((t) => t.vm))].map((vm) => ({ vm, replicas: targets.filter((t) => t.vm === vm).map((t) => t.replica) }))
    : targets.map((t) => ({ vm: t.vm, replica: t.replica, container: t.container }));
  const one = wanted.length === 1;
  const logs: ServiceLog[] = await Promise.all(
    wanted.map(async (w) => {
      try {
        const text = await withVm(access(w.vm), (docker) => (build ? docker.latestBuildLog(name, lines) : docker.logs(w.container!, lines)));
        return { ...w, text: redactSecrets(text, secrets) };
      } catch (e) {
        // One log alone: its failure is the answer. Among several: the others are still worth reading.
        if (one) throw e;
        return { ...w, text: '', error: redactSecrets((e as Error).message.split('\n')[0]!, secrets) };
      }
    }),
  );
  const text = one ? logs[0]!.text : logs.map((l) => `${header(l)}\n${l.error ? `(not read: ${l.error})` : l.text.trimEnd() || '(empty)'}\n`).join('\n');
  return json(200, {
    service: name,
    vm: one ? logs[0]!.vm : (spec?.vm ?? logs[0]!.vm),
    log: build ? 'build' : 'container',
    lines,
    ...(replicaParam !== null ? { replica: targets[0]!.replica } : {}),
    text,
    logs,
  });
}
