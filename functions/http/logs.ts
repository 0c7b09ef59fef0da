/**
 * GET /api/services/{name}/logs: a service's container log (or its image build log, `?build=true`)
 * read on demand over SSH from its VM, with every known secret value redacted. Failures in
 * orchestrations only say where to read logs; this route is where they are read (operators' key).
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { centralDb, settings, withVm } from '../deps.js';
import { redactSecrets, type KnownSecret } from '../platform/redact.js';
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

export async function getServiceLogs(request: HttpRequest): Promise<HttpResponseInit> {
  const name = nameParam(request, 'name');
  const linesParam = request.query.get('lines');
  const lines = linesParam === null ? 100 : Number(linesParam);
  if (!Number.isInteger(lines) || lines < 1 || lines > MAX_LINES) throw badRequest(`lines must be an integer from 1 to ${MAX_LINES}`);
  const build = request.query.get('build') === 'true';
  const db = await centralDb();
  const topology = await db.readTopology();
  if (!topology) throw new HttpError(409, 'the central database holds no topology yet: seed it with `bootstrap-cli deploy`');
  const vmName = name === KAFKA ? topology.kafka?.vm : topology.services.find((s) => s.name === name)?.vm;
  if (!vmName) throw notFound(`no service named "${name}"`);
  const spec = topology.vms.find((v) => v.name === vmName);
  const record = (await db.listVms()).find((v) => v.name === vmName);
  if (!spec || !record?.publicIp || !record.privateIp) throw new HttpError(409, `VM "${vmName}" of "${name}" has no known address yet: it has not been provisioned`);
  const text = await withVm(
    { name: vmName, host: record.publicIp, privateIp: record.privateIp, adminUser: spec.adminUser, sshKeySecret: spec.sshKeySecret },
    (docker) => (build ? docker.latestBuildLog(name, lines) : docker.logs(name, lines)),
  );
  return json(200, { service: name, vm: vmName, log: build ? 'build' : 'container', lines, text: redactSecrets(text, knownSecrets(topology)) });
}
