import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertTopology } from '../../functions/platform/validate.js';
import { preparePlatform, spawnHost, startTestPlatform, type PreparedPlatform, type TestPlatform } from '../helpers/platform.js';
import { compactDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

// The compact example (three VMs, a dependency chain across them, no Kafka) proves every fault here.
const topology = () => assertTopology(compactDocument());

describe('faults injected into the emulators during a boot', () => {
  // One platform: the allocation failure leaves vm-core uncreated; the throttled boot then heals it.
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ topology: topology() });
  }, hang(120_000));
  afterAll(async () => {
    await p?.stop();
  });

  it('one VM cannot be allocated: the rest comes up; the output names the VM and what it blocked', async () => {
    // Every attempt fails (the orchestration retries transient failures). After a failed create the
    // VM exists (Failed, deallocated): a retry updates it and starts it, and the start allocates.
    p.azure.arm.faults.failOperation('vm.create', { vmName: 'vm-core', code: 'AllocationFailed', message: 'no capacity for Standard_B2s', count: 10 });
    p.azure.arm.faults.failOperation('vm.start', { vmName: 'vm-core', code: 'AllocationFailed', message: 'no capacity for Standard_B2s', count: 10 });
    const status = await p.run('boot', undefined, 120_000);
    const out = status.output;
    expect(out.status).toBe('partial');
    const vmFailure = out.failures.find((f: any) => f.target === 'vm-core');
    expect(vmFailure.reason).toMatch(/AllocationFailed/);
    const byName = Object.fromEntries(out.services.map((s: any) => [s.name, s]));
    for (const name of ['authentication', 'request-manager']) expect(byName[name].status).toBe('failed');
    // Blocked across VMs: vm-apps came up, but what deployment-manager depends on did not.
    expect(byName['deployment-manager']).toMatchObject({ status: 'blocked', blockedBy: 'request-manager' });
    expect(byName.monitoring.status).toBe('running');
    const registry = (await (await p.api('registry')).json()) as any[];
    expect(registry.map((e) => e.service)).not.toContain('authentication');
  }, hang(180_000));

  it('ARM throttles during the boot: the boot still completes', async () => {
    p.azure.arm.faults.clear();
    p.azure.arm.log.reset();
    p.azure.arm.faults.throttle('*', { count: 12, retryAfterSeconds: 1 });
    const status = await p.run('boot', undefined, 180_000);
    expect(status.output.status, JSON.stringify(status.output.failures)).toBe('succeeded');
    expect(p.azure.arm.log.counts().throttled).toBeGreaterThanOrEqual(12);
  }, hang(240_000));
});

describe('a boot in progress', () => {
  let p: TestPlatform | undefined;
  afterEach(async () => {
    await p?.stop();
    p = undefined;
  });

  it('while a boot runs, a restart of a service it has not started yet is refused with 409 naming the boot', async () => {
    p = await startTestPlatform({ topology: topology(), azure: { armLatency: { 'vm.create': 1_500 } } });
    const started = await p.api('boot', { method: 'POST' });
    expect(started.status, await started.clone().text()).toBe(202);
    const refused = await p.api('services/deployment-manager/restart', { method: 'POST', body: '{}' });
    expect(refused.status).toBe(409);
    const body: any = await refused.json();
    expect(body.error).toMatch(/the running boot has not started "deployment-manager" yet/);
    expect(body.operation.id).toBe('boot');
    const done = await p.host.waitForInstance('boot', { timeoutInMs: hang(120_000) });
    expect(done.runtimeStatus).toBe('Completed');
    expect((await p.api('services/deployment-manager/restart', { method: 'POST', body: '{}' })).status).toBe(202);
    await p.host.waitForInstance('restart-svc-deployment-manager', { timeoutInMs: hang(60_000) });
  }, hang(180_000));
});

describe('the host is killed mid-boot', () => {
  let prepared: PreparedPlatform | undefined;
  let host: ChildProcess | undefined;
  afterEach(async () => {
    host?.kill('SIGKILL');
    await prepared?.stop();
  });

  it('resumes from its checkpoints: no VM created twice, no container started twice', async () => {
    prepared = await preparePlatform({ topology: topology(), azure: { armLatency: { 'vm.create': 800 } } });
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
  }, hang(360_000));
});
