import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost } from '../../functions/cloud/docker-host.js';
import { SshHost } from '../../functions/cloud/ssh.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { exampleDocument } from '../helpers/topology.js';

let p: TestPlatform;

beforeAll(async () => {
  const doc = exampleDocument();
  // Short back-off so a second restart in this file does not wait 10 s.
  doc.settings.restart = { initialBackoffInMs: 200, maxBackoffInMs: 1_000, resetAfterInMs: 600_000, maxFailures: 10 };
  p = await startTestPlatform({ topology: assertTopology(doc) });
  const boot = await p.run('boot');
  if (boot.output?.status !== 'succeeded') throw new Error(`boot failed: ${JSON.stringify(boot.output)}`);
}, 360_000);

afterAll(async () => {
  await p?.stop();
});

const get = async (path: string) => (await p.api(path)).json() as Promise<any>;
const dockerRestarts = (vm: string, container: string) =>
  p.azure.fleet.events(vm).filter((e) => e.kind === 'restart' && e.container === container && e.by === 'cli').length;

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
  }, 60_000);

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
    await p.host.waitForInstance('restart-svc-sensor-manager', { timeoutInMs: 60_000 });
    expect(dockerRestarts('vm-sensors', 'sensor-manager')).toBe(restartsBefore + 1);
    expect((await get('services/sensor-manager')).restartCount).toBe(countBefore + 1);
  }, 60_000);

  it('brings back a service whose process crashed and stayed down', async () => {
    await p.azure.fleet.crashContainer('vm-apps', 'dashboard', { stayDown: true });
    const done = await p.run('apps/dashboard/restart', { reason: 'container crashed' });
    expect(done.output.outcome).toBe('restarted');
    const after = await get('services/dashboard');
    expect((await fetch(`${after.endpoint.url}/health`)).status).toBe(200);
  }, 60_000);

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
  }, 60_000);
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
  }, 90_000);

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
  }, 90_000);

  it('initializes a VM\'s Docker environment', async () => {
    const installsBefore = p.azure.fleet.counts('vm-ops').install;
    const done = await p.run('vms/vm-ops/init');
    expect(done.output.outcome).toBe('succeeded');
    // Docker is already there: nothing is installed again.
    expect(p.azure.fleet.counts('vm-ops').install).toBe(installsBefore);
  }, 60_000);
});
