import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComputeClients } from '../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../functions/cloud/credentials.js';
import { LOCAL_ARM_TOKEN } from '../../local/azure/index.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

let p: TestPlatform;

beforeAll(async () => {
  // VM creation takes a while (as in Azure), so a sequential boot could not create them all first.
  p = await startTestPlatform({ azure: { armLatency: { 'vm.create': 1_000 } } });
}, 120_000);

afterAll(async () => {
  await p?.stop();
});

describe('boot the example platform end to end', () => {
  let firstOutput: any;

  it('brings every VM and service up, registered with an endpoint that answers /health', async () => {
    const status = await p.run('boot');
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    firstOutput = status.output;
    expect(firstOutput.failures).toEqual([]);
    expect(firstOutput.status).toBe('succeeded');
    const registry = (await (await p.api('registry')).json()) as any[];
    const names = registry.map((e) => e.service).sort();
    expect(names).toEqual(['kafka', ...p.topology.services.map((s) => s.name)].sort());
    for (const entry of registry.filter((e) => e.service !== 'kafka')) {
      expect(entry.status).toBe('running');
      const res = await fetch(`http://${entry.host}:${entry.port}/health`);
      expect(res.status, `${entry.service} /health`).toBe(200);
    }
  }, 360_000);

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
  }, 120_000);
});
