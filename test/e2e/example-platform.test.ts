/**
 * The example platform end to end, on one boot shared by the file (each full boot costs a Kafka JVM
 * and a minute or more): it comes up in the planned order with every endpoint healthy and a second
 * boot only reads; its sensor readings really flow through Apache Kafka (sensor-controller produces,
 * sensor-manager and the anomaly model consume, the dashboard shows them; everything found through
 * the LCM registry), a restarted consumer resumes from its committed offset and the Kafka VM
 * restarted through the API keeps its topics; services and VMs restarted, recreated, provisioned and
 * initialized through the API. The tests run in file order and each leaves the platform healthy.
 * (The VMs are real local VMs: the broker is apache/kafka:3.9.1, Apache Kafka's jars in a container on vm-core.)
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComputeClients } from '../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../functions/cloud/credentials.js';
import { DockerHost } from '../../functions/cloud/docker-host.js';
import { SshHost } from '../../functions/cloud/ssh.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { LOCAL_ARM_TOKEN } from '../../local/azure/index.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { exampleDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;
let kafkaAddress: string;

beforeAll(async () => {
  const doc = exampleDocument();
  // Short back-off so a second restart of a service in this file does not wait 10 s.
  doc.settings.restart = { initialBackoffInMs: 200, maxBackoffInMs: 1_000, resetAfterInMs: 600_000, maxFailures: 10 };
  // VM creation takes a while (as in Azure), so a sequential boot could not create them all first.
  p = await startTestPlatform({ topology: assertTopology(doc), azure: { armLatency: { 'vm.create': 1_000 } } });
}, hang(120_000));

afterAll(async () => {
  await p?.stop();
});

async function endpointOf(service: string): Promise<string> {
  const e = (await (await p.api(`registry/${service}`)).json()) as { host: string; port: number };
  return `http://${e.host}:${e.port}`;
}
const getJson = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json() as Promise<any>;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutInMs = hang(90_000)): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

const admin = async () => {
  const a = new Kafka({ clientId: 'e2e', brokers: [kafkaAddress], logLevel: logLevel.NOTHING }).admin();
  await a.connect();
  return a;
};

const get = async (path: string) => (await p.api(path)).json() as Promise<any>;
const dockerRestarts = (vm: string, container: string) =>
  p.azure.fleet.events(vm).filter((e) => e.kind === 'restart' && e.container === container && e.by === 'cli').length;

describe('boot the example platform end to end', () => {
  let firstOutput: any;

  it('brings every VM and service up, registered with an endpoint that answers /health', async () => {
    const status = await p.run('boot');
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    firstOutput = status.output;
    const kafka = (await (await p.api('registry/kafka')).json()) as { host: string; port: number };
    kafkaAddress = `${kafka.host}:${kafka.port}`;
    expect(firstOutput.failures).toEqual([]);
    expect(firstOutput.status).toBe('succeeded');
    // The boot's start and end in the event log, once each (the end recorded with the summary).
    const boots = (await p.db.listEvents({ target: 'platform' })).filter((e) => e.type === 'boot' && e.operationId === status.instanceId);
    expect(boots.map((e) => e.outcome).sort()).toEqual(['started', 'succeeded']);
    const registry = (await (await p.api('registry')).json()) as any[];
    const names = registry.map((e) => e.service).sort();
    expect(names).toEqual(['kafka', ...p.topology.services.map((s) => s.name)].sort());
    for (const entry of registry.filter((e) => e.service !== 'kafka')) {
      expect(entry.status).toBe('running');
      const res = await fetch(`http://${entry.host}:${entry.port}/health`);
      expect(res.status, `${entry.service} /health`).toBe(200);
    }
  }, hang(360_000));

  it('respected the plan: Kafka first, each service after its dependencies, monitoring last', async () => {
    const entries = new Map(((await (await p.api('registry')).json()) as any[]).map((e) => [e.service, e]));
    const full = await Promise.all([...entries.keys()].map(async (s) => [s, await (await p.api(`registry/${s}`)).json()] as const));
    const startedAt = new Map(full.map(([s, e]: any) => [s, Date.parse(e.startedAt)]));
    for (const s of p.topology.services) {
      expect(startedAt.get(s.name)! >= startedAt.get('kafka')!, `${s.name} after kafka`).toBe(true);
      for (const d of s.dependsOn) expect(startedAt.get(s.name)! >= startedAt.get(d)!, `${s.name} after ${d}`).toBe(true);
      if (s.role !== 'monitoring') expect(startedAt.get('monitoring')! >= startedAt.get(s.name)!, `monitoring after ${s.name}`).toBe(true);
    }
  });

  it('provisioned the VMs in parallel: every VM create was sent before any VM was ready', () => {
    const creates = p.azure.arm.log.entries.filter((e) => e.kind === 'vm.create');
    expect(creates.length).toBe(p.topology.vms.length);
    const installs = p.topology.vms.flatMap((vm) => p.azure.fleet.events(vm.name).filter((e) => e.kind === 'install'));
    expect(installs.length).toBeGreaterThanOrEqual(p.topology.vms.length);
    const lastCreate = Math.max(...creates.map((c) => c.time));
    const firstReady = Math.min(...installs.map((e) => e.at));
    expect(lastCreate).toBeLessThan(firstReady);
  });

  it('opened the broker\'s external listener (kafka.port + 2, the function app\'s) in the Kafka VM\'s network security group, and only SSH elsewhere', async () => {
    const { network } = createComputeClients({
      subscriptionId: p.topology.azure.subscriptionId,
      credential: staticTokenCredential(LOCAL_ARM_TOKEN),
      endpoint: p.azure.arm.endpoint,
      caCert: p.azure.caCert,
    });
    const rules = async (vm: string) =>
      ((await network.networkSecurityGroups.get(p.topology.azure.resourceGroup, `${vm}-nsg`)).securityRules ?? []).map((r) => r.destinationPortRange).sort();
    // Services reach the internal listener (9092) inside the virtual network; only the function app comes from outside.
    expect(await rules('vm-core')).toEqual(['22', '9094']);
    expect(await rules('vm-apps')).toEqual(['22']);
  });

  it('a second boot of the healthy platform only reads: no ARM write, no build, no container restart', async () => {
    p.azure.arm.log.reset();
    const before = Object.fromEntries(p.topology.vms.map((vm) => [vm.name, p.azure.fleet.counts(vm.name)]));
    const status = await p.run('boot');
    expect(status.output?.status, JSON.stringify(status.output)).toBe('succeeded');
    // Every service already ran as wanted and answered: adopted beside its VM's read, none started
    // again one dependency level at a time; only Kafka's step runs (it ensures its topics).
    // (Each group's history is this boot's: a boot starts its groups anew.)
    const stepsRun = p.host
      .listInstances()
      .filter((i) => i.instanceId.startsWith('boot-group-'))
      .flatMap((i) => p.host.getInstance(i.instanceId, { showHistory: true, showHistoryOutput: true })?.historyEvents ?? [])
      .filter((e) => String(e.EventType) === 'TaskCompleted' && e.FunctionName === 'runBootStep')
      .map((e) => (e.Result as { step: string }).step);
    expect(stepsRun).toEqual(['kafka']);
    expect(p.azure.arm.log.counts().writes).toBe(0);
    // One read per VM (its addresses are in its tags), and the resource group's.
    expect(p.azure.arm.log.counts().reads).toBe(p.topology.vms.length + 1);
    for (const vm of p.topology.vms) {
      const after = p.azure.fleet.counts(vm.name);
      expect(after.build, `${vm.name} builds`).toBe(before[vm.name]!.build);
      expect(after.run, `${vm.name} runs`).toBe(before[vm.name]!.run);
      expect(after.restart, `${vm.name} restarts`).toBe(before[vm.name]!.restart);
      expect(after.start, `${vm.name} starts`).toBe(before[vm.name]!.start);
    }
  }, hang(120_000));
});

describe('data through Kafka', () => {
  it('carries sensor readings from sensor-controller through Kafka to sensor-manager, the anomaly model and the dashboard', async () => {
    const dashboard = await endpointOf('dashboard');
    const summary = await until('readings on the dashboard', async () => {
      const s = await getJson(`${dashboard}/api/summary`);
      return s.readingsLast10s > 0 && Object.keys(s.latest).length === 3 ? s : undefined;
    });
    expect(summary.errors).toEqual([]);
    expect(Object.keys(summary.latest).sort()).toEqual(['humidity-1', 'temp-1', 'temp-2']);
    expect((await getJson(`${await endpointOf('sensor-controller')}/health`)).kafka).toBe('connected');
    expect((await getJson(`${await endpointOf('anomaly-model')}/anomalies`)).scored).toBeGreaterThan(0);
    const html = await (await fetch(dashboard)).text();
    expect(html).toMatch(/\d+ readings through Kafka in the last 10 s/);

    // The readings are in Kafka itself, and both consumer groups have committed offsets there.
    const a = await admin();
    try {
      const ends = await a.fetchTopicOffsets('sensor-readings');
      expect(ends.reduce((n, o) => n + Number(o.offset), 0)).toBeGreaterThan(0);
      for (const groupId of ['sensor-manager', 'anomaly-model']) {
        const [committed] = await until(`${groupId}'s committed offsets`, async () => {
          const offsets = await a.fetchOffsets({ groupId, topics: ['sensor-readings'] });
          return offsets[0].partitions.some((x) => Number(x.offset) > 0) ? offsets : undefined;
        });
        expect(committed.topic).toBe('sensor-readings');
      }
    } finally {
      await a.disconnect();
    }
  }, hang(120_000));

  it('a consumer restarted through the API resumes from its committed offset, not from the beginning', async () => {
    const manager = await endpointOf('sensor-manager');
    const a = await admin();
    let committedBefore: Record<number, number>;
    try {
      const [{ partitions }] = await a.fetchOffsets({ groupId: 'sensor-manager', topics: ['sensor-readings'] });
      committedBefore = Object.fromEntries(partitions.map((x) => [x.partition, Number(x.offset)]));
    } finally {
      await a.disconnect();
    }
    const done = await p.run('services/sensor-manager/restart', { reason: 'e2e: consumer restart' });
    expect(done.output.outcome).toBe('restarted');
    const after = await until('readings consumed after the restart', async () => {
      const r = await getJson(`${manager}/readings`);
      return r.consumed > 0 && Object.keys(r.firstOffsets).length > 0 ? r : undefined;
    });
    for (const [partition, first] of Object.entries(after.firstOffsets as Record<string, number>)) {
      // fromBeginning only applies to a group without committed offsets: this one resumes where it was.
      expect(first, `partition ${partition}`).toBeGreaterThanOrEqual(committedBefore[Number(partition)] ?? 0);
      expect(first, `partition ${partition}`).toBeGreaterThan(0);
    }
  }, hang(120_000));

  it('restarting the Kafka VM through the API keeps the topics, and the readings flow again', async () => {
    const manager = await endpointOf('sensor-manager');
    const done = await p.run('vms/vm-core/restart', { reason: 'e2e: Kafka VM restart' }, hang(240_000));
    expect(done.runtimeStatus).toBe('Completed');
    const a = await admin();
    try {
      expect((await a.listTopics()).sort()).toEqual(expect.arrayContaining(['deployments', 'sensor-commands', 'sensor-readings']));
    } finally {
      await a.disconnect();
    }
    const consumedAtRestart = (await getJson(`${manager}/readings`)).consumed as number;
    await until('readings flowing after the Kafka VM restart', async () => {
      const r = await getJson(`${manager}/readings`);
      return r.consumed > consumedAtRestart && r.last10s > 0 ? r : undefined;
    }, hang(120_000));
  }, hang(400_000));
});

describe('restarting a service through the API', () => {
  it('restarts it: a new process serves the same endpoint, restartCount rises by one, an event is recorded', async () => {
    const before = await get('services/authentication');
    const restartsBefore = dockerRestarts('vm-core', 'authentication');
    const done = await p.run('services/authentication/restart', { reason: 'test' });
    expect(done.output.outcome).toBe('restarted');
    const after = await get('services/authentication');
    expect(after.restartCount).toBe(before.restartCount + 1);
    expect(after.lastRestartAt).toBeTruthy();
    expect(after.startedAt).not.toBe(before.startedAt);
    expect(after.endpoint).toEqual(before.endpoint);
    expect(dockerRestarts('vm-core', 'authentication')).toBe(restartsBefore + 1);
    expect((await fetch(`${after.endpoint.url}/health`)).status).toBe(200);
    const restartEvents = after.events.filter((e: any) => e.type === 'restart');
    expect(restartEvents.map((e: any) => e.outcome)).toEqual(expect.arrayContaining(['started', 'succeeded']));
    expect(restartEvents.find((e: any) => e.outcome === 'started')).toMatchObject({ reason: 'test', requestedBy: 'api' });
  }, hang(60_000));

  it('twenty concurrent requests restart it exactly once', async () => {
    const restartsBefore = dockerRestarts('vm-sensors', 'sensor-manager');
    const countBefore = (await get('services/sensor-manager')).restartCount;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => p.api('services/sensor-manager/restart', { method: 'POST', body: '{}' })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const conflict: any = await responses[statuses.indexOf(409)]!.json();
    expect(conflict.operation.id).toBe('restart-svc-sensor-manager');
    await p.host.waitForInstance('restart-svc-sensor-manager', { timeoutInMs: hang(60_000) });
    expect(dockerRestarts('vm-sensors', 'sensor-manager')).toBe(restartsBefore + 1);
    expect((await get('services/sensor-manager')).restartCount).toBe(countBefore + 1);
  }, hang(60_000));

  it('brings back a service whose process crashed and stayed down', async () => {
    await p.azure.fleet.crashContainer('vm-apps', 'dashboard', { stayDown: true });
    const done = await p.run('apps/dashboard/restart', { reason: 'container crashed' });
    expect(done.output.outcome).toBe('restarted');
    const after = await get('services/dashboard');
    expect((await fetch(`${after.endpoint.url}/health`)).status).toBe(200);
  }, hang(60_000));

  it('recreates a service whose container is gone', async () => {
    const runs = () => p.azure.fleet.events('vm-apps').filter((e) => e.kind === 'run' && e.container === 'deployment-manager').length;
    const runsBefore = runs();
    const vm = p.azure.fleet.get('vm-apps')!;
    const ssh = new SshHost({ vm: 'vm-apps', host: vm.privateIp, port: vm.sshPort, username: 'azureuser', privateKey: p.azure.sshPrivateKey }, { pins: p.db.hostKeyPins() });
    await new DockerHost(ssh).removeContainer('deployment-manager');
    ssh.dispose();
    const done = await p.run('services/deployment-manager/restart', { reason: 'container removed' });
    expect(done.output.outcome).toBe('recreated');
    expect(runs()).toBe(runsBefore + 1);
    const after = await get('services/deployment-manager');
    expect((await fetch(`${after.endpoint.url}/health`)).status).toBe(200);
  }, hang(60_000));
});

describe('operations on VMs through the API', () => {
  it('restarts a VM: its services are healthy again and re-registered', async () => {
    const before = await get('registry/sensor-binder');
    const done = await p.run('vms/vm-sensors/restart');
    expect(done.output.outcome, JSON.stringify(done.output)).toBe('succeeded');
    expect(done.output.services.map((s: any) => s.name).sort()).toEqual(['sensor-binder', 'sensor-controller', 'sensor-manager']);
    for (const name of ['sensor-binder', 'sensor-controller', 'sensor-manager']) {
      const entry = await get(`registry/${name}`);
      expect(entry.status).toBe('running');
      expect((await fetch(`http://${entry.host}:${entry.port}/health`)).status).toBe(200);
    }
    expect((await get('registry/sensor-binder')).updatedAt > before.updatedAt).toBe(true);
    expect(p.azure.arm.log.entries.some((e) => e.kind === 'vm.restart')).toBe(true);
  }, hang(90_000));

  it('provisions a new VM: it appears in GET /api/vms with its address and Docker ready', async () => {
    const done = await p.run('vms', { name: 'vm-extra', size: 'Standard_B1s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' });
    expect(done.output.outcome, JSON.stringify(done.output)).toBe('succeeded');
    const vms = (await get('vms')) as any[];
    const extra = vms.find((v) => v.name === 'vm-extra');
    expect(extra).toMatchObject({ powerState: 'running', dockerReady: true });
    // Both addresses are the ones ARM reported, real on the new VM's interface.
    expect(extra.publicIp).toBe(p.azure.fleet.get('vm-extra')!.ip);
    expect(extra.privateIp).toBe(p.azure.fleet.get('vm-extra')!.privateIp);
    expect(extra.privateIp).not.toBe(extra.publicIp);
    expect(p.azure.fleet.counts('vm-extra').install).toBeGreaterThanOrEqual(1);
    // It is part of the desired state now: a second provision of the same name is refused.
    const again = await p.api('vms', { method: 'POST', body: JSON.stringify({ name: 'vm-extra', size: 'Standard_B1s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' }) });
    expect(again.status).toBe(409);
  }, hang(90_000));

  it('initializes a VM\'s Docker environment', async () => {
    const installsBefore = p.azure.fleet.counts('vm-ops').install;
    const done = await p.run('vms/vm-ops/init');
    expect(done.output.outcome).toBe('succeeded');
    // Docker is already there: nothing is installed again.
    expect(p.azure.fleet.counts('vm-ops').install).toBe(installsBefore);
  }, hang(60_000));
});
