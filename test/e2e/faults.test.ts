import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { preparePlatform, spawnHost, startTestPlatform, type PreparedPlatform, type TestPlatform } from '../helpers/platform.js';

let p: TestPlatform | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

describe('faults injected into the emulators during a boot', () => {
  it('one VM cannot be allocated: the rest comes up; the output names the VM and what it blocked', async () => {
    p = await startTestPlatform();
    // Every attempt fails (the orchestration retries transient failures). After a failed create the
    // VM exists (Failed, deallocated): a retry updates it and starts it, and the start allocates.
    p.azure.arm.faults.failOperation('vm.create', { vmName: 'vm-sensors', code: 'AllocationFailed', message: 'no capacity for Standard_B2s', count: 10 });
    p.azure.arm.faults.failOperation('vm.start', { vmName: 'vm-sensors', code: 'AllocationFailed', message: 'no capacity for Standard_B2s', count: 10 });
    const status = await p.run('boot', undefined, 120_000);
    const out = status.output;
    expect(out.status).toBe('partial');
    const vmFailure = out.failures.find((f: any) => f.target === 'vm-sensors');
    expect(vmFailure.reason).toMatch(/AllocationFailed/);
    const byName = Object.fromEntries(out.services.map((s: any) => [s.name, s]));
    for (const name of ['sensor-manager', 'sensor-binder', 'sensor-controller']) expect(byName[name].status).toBe('failed');
    expect(byName.dashboard).toMatchObject({ status: 'blocked', blockedBy: 'sensor-manager' });
    expect(byName['anomaly-model']).toMatchObject({ status: 'blocked', blockedBy: 'sensor-binder' });
    for (const name of ['kafka', 'authentication', 'request-manager', 'deployment-manager', 'monitoring']) expect(byName[name].status).toBe('running');
    const registry = (await (await p.api('registry')).json()) as any[];
    expect(registry.map((e) => e.service)).not.toContain('sensor-manager');
  }, 180_000);

  it('while a boot runs, a restart of a service it has not started yet is refused with 409 naming the boot', async () => {
    p = await startTestPlatform({ azure: { armLatency: { 'vm.create': 1_500 } } });
    expect((await p.api('boot', { method: 'POST' })).status).toBe(202);
    const refused = await p.api('apps/dashboard/restart', { method: 'POST', body: '{}' });
    expect(refused.status).toBe(409);
    const body: any = await refused.json();
    expect(body.error).toMatch(/the running boot has not started "dashboard" yet/);
    expect(body.operation.id).toBe('boot');
    const done = await p.host.waitForInstance('boot', { timeoutInMs: 120_000 });
    expect(done.runtimeStatus).toBe('Completed');
    expect((await p.api('apps/dashboard/restart', { method: 'POST', body: '{}' })).status).toBe(202);
    await p.host.waitForInstance('restart-svc-dashboard', { timeoutInMs: 60_000 });
  }, 180_000);

  it('ARM throttles during the boot: the boot still completes', async () => {
    p = await startTestPlatform();
    p.azure.arm.faults.throttle('*', { count: 12, retryAfterSeconds: 1 });
    const status = await p.run('boot', undefined, 180_000);
    expect(status.output.status, JSON.stringify(status.output.failures)).toBe('succeeded');
    expect(p.azure.arm.log.counts().throttled).toBeGreaterThanOrEqual(12);
  }, 240_000);
});

describe('the host is killed mid-boot', () => {
  let prepared: PreparedPlatform | undefined;
  let host: ChildProcess | undefined;
  afterEach(async () => {
    host?.kill('SIGKILL');
    await prepared?.stop();
  });

  it('resumes from its checkpoints: no VM created twice, no container started twice', async () => {
    prepared = await preparePlatform({ azure: { armLatency: { 'vm.create': 800 } } });
    let { proc, baseUrl } = await spawnHost(prepared);
    host = proc;
    const headers = { 'x-functions-key': prepared.key };
    const started = await fetch(`${baseUrl}/api/boot`, { method: 'POST', headers });
    expect(started.status).toBe(202);
    // Kill once every VM create was sent and some services are already running.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const registry = (await (await fetch(`${baseUrl}/api/registry`, { headers })).json()) as unknown[];
      if (registry.length >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));

    ({ proc, baseUrl } = await spawnHost(prepared));
    host = proc;
    let status: any;
    // The rest of the boot includes Apache Kafka's start (a JVM): give it time on a loaded machine.
    while (Date.now() < deadline + 180_000) {
      status = await (await fetch(`${baseUrl}/api/operations/boot`, { headers })).json();
      if (!['Running', 'Pending'].includes(status.runtimeStatus)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    expect(status.output.status, JSON.stringify(status.output.failures)).toBe('succeeded');

    const creates = prepared.azure.arm.log.entries.filter((e) => e.kind === 'vm.create');
    expect(creates).toHaveLength(prepared.topology.vms.length);
    for (const vm of prepared.topology.vms) {
      const runs = prepared.azure.fleet.events(vm.name).filter((e) => e.kind === 'run');
      const perContainer = new Map<string, number>();
      for (const r of runs) perContainer.set(r.container!, (perContainer.get(r.container!) ?? 0) + 1);
      for (const [container, n] of perContainer) expect(n, `${vm.name}/${container} runs`).toBe(1);
    }
  }, 360_000);
});
