/**
 * Activities on a VM's Docker over SSH: ensure Docker, prepare an image from the code share, run a
 * service (and register it), start Kafka and its topics, restart a container, check health.
 */
import { ensureTopics } from '../cloud/kafka.js';
import { kafkaContainerSpec, kafkaExternalAddress } from '../cloud/kafka-broker.js';
import { fetchScript } from '../cloud/code-share.js';
import { imageName, type HealthCheck } from '../cloud/docker-host.js';
import { readSecretSetting } from '../cloud/secrets.js';
import { centralDb, codeShare, settings, vmAddress, withVm } from '../deps.js';
import { Guard, guardServiceRuntime, guardVmAccess, MAX_SECRET_VALUE, envValueIssue } from '../platform/guard.js';
import type {
  HealthResult,
  PrepareImageInput,
  PreparedImage,
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

export async function prepareImage(input: PrepareImageInput): Promise<PreparedImage> {
  // The step names a folder on the VM and the source a folder in the share: both re-checked here.
  guardVmAccess(new Guard(), input?.vm).name('step', input?.step).sourcePath('source', input?.source).done('prepareImage');
  const share = codeShare();
  const version = await share.codeVersion(input.source);
  new Guard().version('version', version).done(`prepareImage of ${input.step}`);
  const image = imageName(input.step, version);
  const built = await withVm(input.vm, async (docker) => {
    if (await docker.hasImage(image)) return false;
    // The VM fetches the code itself: it never streams through the function app, and the SAS
    // URLs go straight into the script sent to the VM (not into any orchestration payload).
    const urls = await share.readOnlySasUrls(input.source, { expiresInMs: SAS_LIFETIME_IN_MS });
    const dir = `.lcm/src/${input.step}/${version}`;
    await docker.buildImage(image, dir, fetchScript(urls, dir, { caCert: share.caCert }), { logHint: `read it with \`bootstrap-cli logs ${input.step} --build\`` });
    return true;
  });
  return { step: input.step, image, version, built };
}

/** A service's health check as run from its own VM, on the VM's private address. */
function healthCheckOf(vm: VmAccess, service: ServiceRuntimeSpec): HealthCheck {
  return { address: vm.privateIp, port: service.port, path: service.health.path, timeoutInMs: service.health.timeoutInMs };
}

function stringEnv(env: ServiceRuntimeSpec['env']): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function secretValues(service: ServiceRuntimeSpec, monitoring: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [variable, setting] of Object.entries(service.secretEnv)) {
    out[variable] = readSecretSetting(setting, `the value of ${variable} for service "${service.name}"`);
  }
  if (monitoring) {
    // The monitoring service calls the LCM's restart API with this key, given at run time.
    const key = process.env[settings().monitoringKeySetting];
    if (key) out.LCM_API_KEY = key;
  }
  // A line break in a value would add a variable to the env file: refuse, naming the setting, never the value.
  const issues = Object.entries(out).flatMap(([variable, value]) => {
    const issue = envValueIssue(value, MAX_SECRET_VALUE);
    const setting = service.secretEnv[variable] ?? settings().monitoringKeySetting;
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
  const { vm, service } = input;
  const env = stringEnv(service.env);
  // Every service may look the others up in the registry: the LCM's address is not a secret (its key is).
  if (settings().publicApiUrl) env.LCM_API_URL = settings().publicApiUrl!;
  const check = healthCheckOf(vm, service);
  const result = await withVm(vm, async (docker) => {
    // Safe to run twice: a container this activity already recreated answers healthy and is kept.
    if (input.recreate && !(await docker.isHealthy(check))) await docker.removeContainer(service.name);
    const state = await docker.ensureContainer({
      name: service.name,
      image: input.image,
      port: service.port,
      env,
      secretEnv: secretValues(service, input.monitoring ?? false),
      restart: 'unless-stopped',
    });
    const healthy = await docker.waitHealthy(check, { startupTimeoutInMs: service.health.startupTimeoutInMs });
    if (!healthy) {
      // No log lines here: this error lands in orchestration history, and a service's log can
      // hold its secrets. Say where to read them instead (fetched on demand, redacted).
      throw new Error(
        `service "${service.name}" on VM "${vm.name}" did not answer http://${vm.privateIp}:${service.port}${service.health.path} ` +
          `within ${Math.round(service.health.startupTimeoutInMs / 1000)} s; read its container log with ` +
          `\`bootstrap-cli logs ${service.name}\` (GET /api/services/${service.name}/logs)`,
      );
    }
    return state;
  });
  const startedAt = result.startedAt ?? new Date().toISOString();
  await (await centralDb()).upsertEntry(service.name, {
    kind: service.kind,
    vm: vm.name,
    host: vm.privateIp,
    port: service.port,
    imageTag: input.version,
    status: 'running',
    startedAt,
  });
  return { service: service.name, kind: service.kind, vm: vm.name, host: vm.privateIp, port: service.port, status: 'running', startedAt, action: result.action };
}

export async function startKafka(input: StartKafkaInput): Promise<StartedService> {
  const g = guardVmAccess(new Guard(), input?.vm).port('kafka.port', input?.kafka?.port).image('image', input?.image).version('version', input?.version);
  (input?.kafka?.topics ?? []).forEach((t, i) => g.topic(`kafka.topics[${i}].name`, t?.name));
  g.done('startKafka');
  const { vm, kafka } = input;
  // Services on other VMs are told the private address, the function app the one it reaches the VM at (vmAddress).
  const spec = kafkaContainerSpec({ image: input.image, vm: vm.name, privateIp: vm.privateIp, publicHost: vmAddress(vm), port: kafka.port });
  const state = await withVm(vm, (docker) => docker.ensureContainer(spec));
  await ensureTopics({
    brokers: [kafkaExternalAddress(vmAddress(vm), kafka.port)],
    topics: kafka.topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor })),
    waitForBrokerInMs: settings().kafkaWaitInMs,
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
  const { vm, service } = input;
  const outcome = await withVm(vm, async (docker) => {
    const before = await docker.containerState(service.name);
    if (!before.exists) return { healthy: false, running: false, detail: 'no container: it will be recreated' };
    const after = await docker.restartContainer(service.name);
    const healthy = await docker.waitHealthy(
      healthCheckOf(vm, service),
      { startupTimeoutInMs: service.health.startupTimeoutInMs },
    );
    return { healthy, running: after.running, startedAt: after.startedAt, detail: healthy ? undefined : 'not healthy after restart' };
  });
  if (outcome.healthy) {
    await (await centralDb()).upsertEntry(service.name, { status: 'running', host: vm.privateIp, port: service.port, vm: vm.name, startedAt: outcome.startedAt });
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
