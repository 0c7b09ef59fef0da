/**
 * Activities on a VM's Docker over SSH: ensure Docker, prepare an image from the code share, run a
 * service (and register it), start Kafka and its topics, restart a container, check health.
 */
import { ensureTopics } from '../cloud/kafka.js';
import { kafkaContainerSpec, kafkaExternalAddress } from '../cloud/kafka-broker.js';
import { fetchScript } from '../cloud/code-share.js';
import { imageName, type BuildStatus, type HealthCheck } from '../cloud/docker-host.js';
import { readSecretSetting } from '../cloud/secrets.js';
import { centralDb, codeShare, settings, vmAddress, withVm } from '../deps.js';
import { Guard, guardServiceRuntime, guardVmAccess, MAX_SECRET_VALUE, envValueIssue } from '../platform/guard.js';
import { kafkaLabels, LABELS, serviceLabels } from '../platform/reconcile-plan.js';
import { KAFKA_STARTUP_LIMITS } from '../platform/topology.js';

/** A replica's container: the service's name, or `<name>-r<n>` (platform/replicas.ts). */
const CONTAINER_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?(-r[0-9]{1,2})?$/;
import type {
  AdoptServicesInput,
  BuildProgress,
  CodeVersion,
  PollBuildsInput,
  StartBuildsInput,
  HealthResult,
  RestartContainerInput,
  ServiceRuntimeSpec,
  StartKafkaInput,
  StartServiceInput,
  StartedService,
  VmAccess,
} from './contracts.js';

/** SAS URLs live this long: enough to fetch, too short to be worth stealing. */
const SAS_LIFETIME_IN_MS = 15 * 60_000;

export async function ensureDocker(input: { vm: VmAccess }): Promise<{ vm: string; installed: boolean }> {
  guardVmAccess(new Guard(), input?.vm).done('ensureDocker');
  const { installed } = await withVm(input.vm, (docker) => docker.ensureDocker());
  return { vm: input.vm.name, installed };
}

/**
 * The code version of each folder, once per boot: 200 services sharing one folder list the share
 * and read every file's properties once, not 200 times.
 */
export async function codeVersions(input: { sources: string[] }): Promise<CodeVersion[]> {
  const g = new Guard();
  if (!Array.isArray(input?.sources)) g.issues.push({ path: 'sources', message: 'must be a list of folders' });
  else input.sources.forEach((s, i) => g.sourcePath(`sources[${i}]`, s));
  g.done('codeVersions');
  const share = codeShare();
  return Promise.all(
    [...new Set(input.sources)].map(async (source): Promise<CodeVersion> => {
      try {
        const version = await share.codeVersion(source);
        new Guard().version('version', version).done(`codeVersions of ${source}`);
        return { source, version };
      } catch (e) {
        return { source, error: (e as Error).message };
      }
    }),
  );
}

/** The run id of a boot names a marker on the VM: plain characters only. */
const RUN_ID = /^[A-Za-z0-9:._-]{1,160}$/;

/**
 * Starts each build on the VM and returns where each stands, without waiting for any (the boot
 * polls them with pollBuilds between durable timers). An image already there is reported built.
 */
export async function startBuilds(input: StartBuildsInput): Promise<BuildProgress[]> {
  const g = guardVmAccess(new Guard(), input?.vm);
  if (typeof input?.run !== 'string' || !RUN_ID.test(input.run)) g.issues.push({ path: 'run', message: 'must be a run id of letters, digits and : . _ -' });
  if (!Array.isArray(input?.builds)) g.issues.push({ path: 'builds', message: 'must be a list of builds' });
  else
    input.builds.forEach((b, i) => {
      g.name(`builds[${i}].step`, b?.step).sourcePath(`builds[${i}].source`, b?.source);
      if (b?.version !== undefined) g.version(`builds[${i}].version`, b.version);
    });
  g.done('startBuilds');
  const share = codeShare();
  return withVm(input.vm, async (docker) => {
    const out: BuildProgress[] = [];
    const wanted: Array<{ step: string; source: string; version: string; image: string }> = [];
    for (const b of input.builds) {
      try {
        const version = b.version ?? (await share.codeVersion(b.source));
        new Guard().version('version', version).done(`startBuilds of ${b.step}`);
        wanted.push({ step: b.step, source: b.source, version, image: imageName(b.step, version) });
      } catch (e) {
        out.push({ step: b.step, state: 'failed', reason: `the build of ${b.step} on VM "${input.vm.name}" could not start: ${(e as Error).message}` });
      }
    }
    // One look for the images already there (a re-boot's usual case), then a start for each other.
    const present = await docker.presentImages(wanted.map((w) => w.image));
    let started = 0;
    // One at a time over the VM's pooled connection: each is a short command.
    for (const w of wanted) {
      if (present.has(w.image)) {
        out.push({ step: w.step, state: 'built', image: { step: w.step, image: w.image, version: w.version, built: false } });
        continue;
      }
      try {
        // The VM fetches the code itself; the SAS URLs go into the script sent to the VM only.
        const urls = await share.readOnlySasUrls(w.source, { expiresInMs: SAS_LIFETIME_IN_MS });
        const dir = `.lcm/src/${w.step}/${w.version}`;
        const status = await docker.startBuild(w.image, dir, fetchScript(urls, dir, { caCert: share.caCert }), { run: input.run });
        started++;
        out.push(progressOf(w.step, w.image, w.version, status.state === 'started' ? { state: 'running' } : status));
      } catch (e) {
        out.push({ step: w.step, state: 'failed', reason: `the build of ${w.step} on VM "${input.vm.name}" could not start: ${(e as Error).message}` });
      }
    }
    // Housekeeping when builds were started: the VM's markers of builds over for a day go. It
    // changes no build's outcome, so a VM that cannot do it now does it at its next start.
    if (started > 0) await docker.pruneBuildMarkers().catch(() => 0);
    return out;
  });
}

/** Where each build stands: one SSH command for all of a VM's running builds. */
export async function pollBuilds(input: PollBuildsInput): Promise<BuildProgress[]> {
  const g = guardVmAccess(new Guard(), input?.vm);
  if (!Number.isInteger(input?.round) || input.round < 1) g.issues.push({ path: 'round', message: 'must be a poll number from 1' });
  if (!Array.isArray(input?.builds)) g.issues.push({ path: 'builds', message: 'must be a list of builds' });
  else input.builds.forEach((b, i) => g.name(`builds[${i}].step`, b?.step).image(`builds[${i}].image`, b?.image).version(`builds[${i}].version`, b?.version));
  g.done('pollBuilds');
  return withVm(input.vm, async (docker) => {
    const states = await docker.pollBuilds(input.builds.map((b) => b.image));
    return input.builds.map((b) => progressOf(b.step, b.image, b.version, states.get(b.image)!));
  });
}

function progressOf(step: string, image: string, version: string, status: BuildStatus): BuildProgress {
  if (status.state === 'built') return { step, state: 'built', image: { step, image, version, built: true } };
  if (status.state === 'running') return { step, state: 'running', image, version };
  return { step, state: 'failed', reason: `${status.reason} (read it with \`bootstrap-cli logs ${step} --build\`)` };
}

/** A service's health check as run from its own VM, on the VM's private address. */
function healthCheckOf(vm: VmAccess, service: ServiceRuntimeSpec): HealthCheck {
  return { address: vm.privateIp, port: service.port, path: service.health.path, timeoutInMs: service.health.timeoutInMs };
}

function stringEnv(env: ServiceRuntimeSpec['env']): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function secretValues(service: ServiceRuntimeSpec, monitoring: boolean): Record<string, string> {
  const { monitoringKeySetting, serviceKeySetting } = settings();
  const out: Record<string, string> = {};
  for (const [variable, setting] of Object.entries(service.secretEnv)) {
    // The restart-capable key is the monitoring service's alone: another service asking for it is refused.
    if (!monitoring && setting === monitoringKeySetting) {
      const g = new Guard();
      g.issues.push({ path: `service.secretEnv.${variable}`, message: `app setting ${setting} is the monitoring service's key (it restarts services); other services get a registry-only key as LCM_API_KEY` });
      g.done(`startService of ${service.name}`);
    }
    out[variable] = readSecretSetting(setting, `the value of ${variable} for service "${service.name}"`);
  }
  // The LCM API key, given at run time: the monitoring service's opens the registry and the restart
  // routes; every other service's opens the registry only.
  const keySetting = monitoring ? monitoringKeySetting : serviceKeySetting;
  const key = process.env[keySetting];
  if (key) out.LCM_API_KEY = key;
  // A line break in a value would add a variable to the env file: refuse, naming the setting, never the value.
  const issues = Object.entries(out).flatMap(([variable, value]) => {
    const issue = envValueIssue(value, MAX_SECRET_VALUE);
    const setting = variable === 'LCM_API_KEY' && key ? keySetting : service.secretEnv[variable]!;
    return issue ? [{ path: `service.secretEnv.${variable}`, message: `the value of app setting ${setting} ${issue}` }] : [];
  });
  const g = new Guard();
  g.issues.push(...issues);
  g.done(`startService of ${service.name}`);
  return out;
}

function guardContainerInput(what: string, input: { vm: VmAccess; service: ServiceRuntimeSpec; image?: string; version?: string }, withImage: boolean): void {
  const g = guardServiceRuntime(guardVmAccess(new Guard(), input?.vm), input?.service);
  if (withImage) g.image('image', input.image).version('version', input.version);
  g.done(what);
}

export async function startService(input: StartServiceInput): Promise<StartedService> {
  guardContainerInput('startService', input, true);
  const g = new Guard();
  if (input.replica !== undefined) {
    g.port('replica.port', input.replica.port);
    if (!Number.isInteger(input.replica.index) || input.replica.index < 0) g.issues.push({ path: 'replica.index', message: 'must be a replica number' });
    if (typeof input.replica.container !== 'string' || !CONTAINER_NAME.test(input.replica.container)) g.issues.push({ path: 'replica.container', message: 'must be a container name like <service> or <service>-r<n>' });
  }
  g.done('startService');
  const { vm } = input;
  const replica = input.replica ?? { index: 0, container: input.service.name, port: input.service.port };
  // The replica listens on its own port: the service as this container runs it.
  const service = { ...input.service, port: replica.port };
  const env = stringEnv(service.env);
  // Every service may look the others up in the registry: the LCM's address is not a secret (its key is).
  if (settings().publicApiUrl) env.LCM_API_URL = settings().publicApiUrl!;
  const check = healthCheckOf(vm, service);
  const labels = serviceLabels(service, { replica: replica.index, port: replica.port }, input.version);
  const result = await withVm(vm, async (docker) => {
    // Safe to run twice: a container this activity already recreated answers healthy and is kept.
    if (input.recreate && !(await docker.isHealthy(check))) await docker.removeContainer(replica.container);
    const state = await docker.ensureContainer({
      name: replica.container,
      image: input.image,
      port: replica.port,
      env,
      secretEnv: secretValues(service, input.monitoring ?? false),
      restart: 'unless-stopped',
      labels,
      infoLabels: { [LABELS.level]: String(input.level ?? 0) },
    });
    const healthy = await docker.waitHealthy(check, { startupTimeoutInMs: service.health.startupTimeoutInMs });
    if (!healthy) {
      // No log lines here: this error lands in orchestration history, and a service's log can
      // hold its secrets. Say where to read them instead (fetched on demand, redacted).
      throw new Error(
        `service "${service.name}" on VM "${vm.name}" did not answer http://${vm.privateIp}:${replica.port}${service.health.path} ` +
          `within ${Math.round(service.health.startupTimeoutInMs / 1000)} s; read its container log with ` +
          `\`bootstrap-cli logs ${service.name}\` (GET /api/services/${service.name}/logs)`,
      );
    }
    return state;
  });
  // Registered only once healthy: a client reading the registry never finds a container that does not answer.
  return registerRunning(await centralDb(), vm, service, replica, input.version, result.startedAt ?? new Date().toISOString(), result.action);
}

/** A healthy replica's registry instance, and what a boot step reports of it. */
async function registerRunning(
  db: Awaited<ReturnType<typeof centralDb>>,
  vm: VmAccess,
  service: ServiceRuntimeSpec,
  replica: { index: number; container: string; port: number },
  version: string,
  startedAt: string,
  action: StartedService['action'],
): Promise<StartedService> {
  await db.registerInstance(service.name, service.kind, {
    vm: vm.name,
    container: replica.container,
    replica: replica.index,
    host: vm.privateIp,
    port: replica.port,
    status: 'running',
    imageTag: version,
    startedAt,
  });
  return { service: service.name, kind: service.kind, vm: vm.name, host: vm.privateIp, port: replica.port, status: 'running', startedAt, action };
}

/**
 * The services that already run on a VM as the boot would start them (same image, same compared
 * labels: ensureContainer would change nothing) and answer their health check. A healthy re-boot
 * takes these as running at once instead of walking its dependency chain to find each unchanged;
 * each is registered as startService registers it. Anything else is left to the boot's ordered
 * start. Changes no container, so it is safe to run twice and at any point of a boot.
 */
export async function adoptServices(input: AdoptServicesInput): Promise<StartedService[]> {
  const g = guardVmAccess(new Guard(), input?.vm);
  if (!Array.isArray(input?.services)) g.issues.push({ path: 'services', message: 'must be a list of services' });
  else input.services.forEach((s, i) => guardServiceRuntime(g, s?.service, `services[${i}].service`).version(`services[${i}].version`, s?.version));
  g.done('adoptServices');
  const { vm } = input;
  // One SSH command looks at all of them (an inspect of every container, the probes side by side).
  const states = await withVm(vm, (docker) =>
    docker.runningHealthy(
      input.services.map(({ service, version }) => ({
        spec: { name: service.name, image: imageName(service.name, version), labels: serviceLabels(service, { replica: 0, port: service.port }, version) },
        health: healthCheckOf(vm, service),
      })),
    ),
  );
  const found = input.services.flatMap(({ service, version }, i) => (states[i] ? [{ service, version, startedAt: states[i]!.startedAt ?? new Date().toISOString() }] : []));
  const db = await centralDb();
  return Promise.all(found.map(({ service, version, startedAt }) => registerRunning(db, vm, service, { index: 0, container: service.name, port: service.port }, version, startedAt, 'none')));
}

export async function startKafka(input: StartKafkaInput): Promise<StartedService> {
  const g = guardVmAccess(new Guard(), input?.vm).port('kafka.port', input?.kafka?.port).image('image', input?.image).version('version', input?.version);
  (input?.kafka?.topics ?? []).forEach((t, i) => g.topic(`kafka.topics[${i}].name`, t?.name));
  const wait = input?.kafka?.startupTimeoutInMs ?? KAFKA_STARTUP_LIMITS.default;
  if (!Number.isInteger(wait) || wait < KAFKA_STARTUP_LIMITS.min || wait > KAFKA_STARTUP_LIMITS.max) {
    g.issues.push({ path: 'kafka.startupTimeoutInMs', message: `must be a whole number of milliseconds from ${KAFKA_STARTUP_LIMITS.min} to ${KAFKA_STARTUP_LIMITS.max}` });
  }
  g.done('startKafka');
  const { vm, kafka } = input;
  // Services on other VMs are told the private address, the function app the one it reaches the VM at (vmAddress).
  const spec = kafkaContainerSpec({ image: input.image, vm: vm.name, privateIp: vm.privateIp, publicHost: vmAddress(vm), port: kafka.port });
  const state = await withVm(vm, (docker) => docker.ensureContainer({ ...spec, labels: kafkaLabels(input.version) }));
  await ensureTopics({
    brokers: [kafkaExternalAddress(vmAddress(vm), kafka.port)],
    topics: kafka.topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor })),
    waitForBrokerInMs: wait,
    waitSetting: 'kafka.startupTimeoutInMs in the topology',
  });
  const startedAt = state.startedAt ?? new Date().toISOString();
  await (await centralDb()).upsertEntry('kafka', {
    kind: 'broker',
    vm: vm.name,
    host: vm.privateIp,
    port: kafka.port,
    imageTag: input.version,
    status: 'running',
    startedAt,
  });
  return { service: 'kafka', kind: 'broker', vm: vm.name, host: vm.privateIp, port: kafka.port, status: 'running', startedAt, action: state.action };
}

/** Restarts the container and waits for health; when healthy, refreshes the registry entry. */
export async function restartContainer(input: RestartContainerInput): Promise<HealthResult> {
  guardContainerInput('restartContainer', input, false);
  if (input.replica !== undefined && (typeof input.replica.container !== 'string' || !CONTAINER_NAME.test(input.replica.container) || !Number.isInteger(input.replica.index))) {
    const g = new Guard();
    g.issues.push({ path: 'replica', message: 'must name a replica container like <service>-r<n> and its index' });
    g.done('restartContainer');
  }
  const { vm, service } = input;
  const container = input.replica?.container ?? service.name;
  const outcome = await withVm(vm, async (docker) => {
    const before = await docker.containerState(container);
    if (!before.exists) return { healthy: false, running: false, detail: 'no container: it will be recreated' };
    const after = await docker.restartContainer(container);
    const healthy = await docker.waitHealthy(
      healthCheckOf(vm, service),
      { startupTimeoutInMs: service.health.startupTimeoutInMs },
    );
    return { healthy, running: after.running, startedAt: after.startedAt, detail: healthy ? undefined : 'not healthy after restart' };
  });
  if (outcome.healthy) {
    const db = await centralDb();
    if (input.replica) {
      // Another replica: its own instance in the registry (the entry's endpoint stays where it is).
      const entry = await db.getEntry(service.name);
      const imageTag = entry?.instances?.find((i) => i.vm === vm.name && i.container === container)?.imageTag ?? entry?.imageTag ?? '';
      await db.registerInstance(service.name, service.kind, { vm: vm.name, container, replica: input.replica.index, host: vm.privateIp, port: service.port, status: 'running', imageTag, startedAt: outcome.startedAt });
    } else {
      await db.upsertEntry(service.name, { status: 'running', host: vm.privateIp, port: service.port, vm: vm.name, startedAt: outcome.startedAt });
    }
    return { service: service.name, healthy: true, running: true, host: vm.privateIp, port: service.port };
  }
  return { service: service.name, healthy: false, running: outcome.running, detail: outcome.detail };
}

export async function checkHealth(input: RestartContainerInput): Promise<HealthResult> {
  guardContainerInput('checkHealth', input, false);
  const { vm, service } = input;
  try {
    const healthy = await withVm(vm, (docker) =>
      docker.isHealthy(healthCheckOf(vm, service)),
    );
    return { service: service.name, healthy, running: healthy, detail: healthy ? undefined : `no healthy answer at ${vm.privateIp}:${service.port}${service.health.path}` };
  } catch (e) {
    // The VM itself is unreachable: that is a failed check too, not a failed watchdog.
    return { service: service.name, healthy: false, running: false, detail: (e as Error).message.split('\n')[0] };
  }
}
