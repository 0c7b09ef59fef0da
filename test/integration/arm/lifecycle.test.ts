import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeAdapter } from '../../../functions/cloud/compute.js';
import { LOCATION, publicKeyLine, startHarness, vmSpec, type Harness } from './harness.js';

const RG = 'rg-test';

describe('ARM emulator + compute adapter: VM lifecycle over the real SDK', () => {
  let h: Harness;
  const key = publicKeyLine();
  const ref = { resourceGroup: RG, name: 'vm-core' };

  beforeAll(async () => {
    h = await startHarness();
    expect(await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION })).toEqual({ created: true });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('ensureResourceGroup on an existing group only reads', async () => {
    h.arm.log.reset();
    expect(await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION })).toEqual({ created: false });
    expect(h.arm.log.counts()).toMatchObject({ reads: 1, writes: 0 });
  });

  it('creates a VM with its network, SSH key only, and powers it on through the hooks', async () => {
    h.arm.log.reset();
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-core'), publicKey: key });
    expect(result).toMatchObject({ name: 'vm-core', powerState: 'running', created: true, started: true });
    expect(result.publicIp).toMatch(/^127\.\d+\.\d+\.\d+$/);
    // The NIC's private address is its own, not the public IP's.
    expect(result.privateIp).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(result.privateIp).not.toBe(result.publicIp);

    const byKind = h.arm.log.counts().byKind;
    for (const kind of ['vnet.write', 'nsg.write', 'publicIp.write', 'nic.write', 'vm.create'] as const) expect(byKind[kind]).toBe(1);
    expect(byKind['operation.poll']).toBeGreaterThan(0);

    const snapshot = h.arm.getVm(RG, 'vm-core')!;
    expect(snapshot).toMatchObject({ powerState: 'running', provisioningState: 'Succeeded', ip: result.publicIp, privateIp: result.privateIp, adminUser: 'azureuser', publicKeys: [key] });
    const on = h.hooks.calls.filter((c) => c.type === 'powerOn');
    expect(on).toHaveLength(1);
    expect(on[0]).toMatchObject({ vm: { name: 'vm-core', ip: result.publicIp, privateIp: result.privateIp, adminUser: 'azureuser', publicKeys: [key] } });

    const state = await h.adapter.getVmState(ref);
    expect(state).toMatchObject({ exists: true, powerState: 'running', provisioningState: 'Succeeded', publicIp: result.publicIp, privateIp: result.privateIp });
  });

  it('its NSG opens SSH and the broker port to the VirtualNetwork service tag only, never the internet', async () => {
    await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-broker'), publicKey: key, inboundPorts: [9092] });
    const nsg = await h.clients.network.networkSecurityGroups.get(RG, 'vm-broker-nsg');
    const inbound = (nsg.securityRules ?? []).filter((r) => r.direction === 'Inbound' && r.access === 'Allow');
    expect(inbound.map((r) => [r.name, r.destinationPortRange, r.sourceAddressPrefix]).sort()).toEqual([
      ['allow-ssh', '22', 'VirtualNetwork'],
      ['allow-tcp-9092', '9092', 'VirtualNetwork'],
    ]);
    for (const r of inbound) expect(['*', 'Internet', '0.0.0.0/0'], r.name).not.toContain(r.sourceAddressPrefix);
    await h.adapter.deleteVm({ resourceGroup: RG, name: 'vm-broker' });
  });

  it('a second ensureVm on a running VM makes no write and a single read', async () => {
    h.arm.log.reset();
    h.hooks.clear();
    const again = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-core'), publicKey: key });
    expect(again).toMatchObject({ created: false, started: false, powerState: 'running' });
    expect(h.arm.log.counts()).toMatchObject({ writes: 0, reads: 1, byKind: { 'vm.read': 1 } });
    expect(h.hooks.calls).toEqual([]);
  });

  it('powerOff calls the hook before the VM is reported stopped; start powers it on again', async () => {
    h.hooks.clear();
    await h.adapter.powerOffVm(ref);
    expect(h.hooks.calls).toEqual([{ type: 'powerOff', name: 'vm-core', reason: 'stop', stateSeen: 'stopping' }]);
    expect((await h.adapter.getVmState(ref)).powerState).toBe('stopped');

    h.hooks.clear();
    await h.adapter.startVm(ref);
    expect(h.hooks.calls.map((c) => c.type)).toEqual(['powerOn']);
    expect((await h.adapter.getVmState(ref)).powerState).toBe('running');
  });

  it('POST actions are answered 202 and followed through the async-operation URL', async () => {
    h.arm.log.reset();
    await h.adapter.powerOffVm(ref);
    const entries = h.arm.log.entries;
    expect(entries.find((e) => e.kind === 'vm.powerOff')).toMatchObject({ method: 'POST', status: 202 });
    expect(entries.filter((e) => e.kind === 'operation.poll').every((e) => e.status === 200)).toBe(true);
    expect(entries.some((e) => e.kind === 'operation.poll' && e.path.includes('/operations/'))).toBe(true);
    await h.adapter.startVm(ref);
  });

  it('restart = powerOff("restart") then powerOn, ending running', async () => {
    h.hooks.clear();
    await h.adapter.restartVm(ref);
    expect(h.hooks.calls.map((c) => (c.type === 'powerOff' ? `off:${c.reason}` : 'on'))).toEqual(['off:restart', 'on']);
    expect((await h.adapter.getVmState(ref)).powerState).toBe('running');
  });

  it('ensureVm on a deallocated VM starts it with one write', async () => {
    h.hooks.clear();
    await h.adapter.deallocateVm(ref);
    expect(h.hooks.calls).toEqual([{ type: 'powerOff', name: 'vm-core', reason: 'deallocate', stateSeen: 'deallocating' }]);
    expect((await h.adapter.getVmState(ref)).powerState).toBe('deallocated');

    h.arm.log.reset();
    h.hooks.clear();
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-core'), publicKey: key });
    expect(result).toMatchObject({ created: false, started: true, powerState: 'running' });
    expect(h.arm.log.counts()).toMatchObject({ writes: 1, byKind: { 'vm.start': 1 } });
    expect(h.hooks.calls.map((c) => c.type)).toEqual(['powerOn']);
    expect(h.arm.getVm(RG, 'vm-core')!.powerState).toBe('running');
  });

  it('restart of a stopped VM is refused (409) with an error naming the VM and the step', async () => {
    await h.adapter.powerOffVm(ref);
    await expect(h.adapter.restartVm(ref)).rejects.toThrow(/vm "vm-core": restart failed: OperationNotAllowed/);
    await h.adapter.startVm(ref);
  });

  it('two concurrent ensureVm calls for a new VM create it once', async () => {
    h.arm.log.reset();
    const input = { resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-twin'), publicKey: key };
    const [a, b] = await Promise.all([h.adapter.ensureVm(input), h.adapter.ensureVm(input)]);
    expect(a.publicIp).toBe(b.publicIp);
    const created = h.arm.log.entries.filter((e) => e.kind === 'vm.create' && e.status < 300);
    expect(created).toHaveLength(1);
    expect(h.arm.getVm(RG, 'vm-twin')!.powerState).toBe('running');
  });

  it('maxConcurrentWrites bounds writes: a throttled write holds its slot until its retry', async () => {
    const serial = new ComputeAdapter({ clients: h.clients, pollIntervalInMs: 10, maxConcurrentWrites: 1 });
    h.arm.log.reset();
    h.arm.faults.throttle('nsg.write', { count: 1, retryAfterSeconds: 1 });
    await Promise.all(
      ['vm-a', 'vm-b'].map((name) => serial.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec(name), publicKey: key })),
    );
    const writes = h.arm.log.entries.filter((e) => e.method !== 'GET');
    const throttled = writes.findIndex((e) => e.status === 429);
    expect(throttled).toBeGreaterThanOrEqual(0);
    // With one slot, the next write to arrive is the retry of the throttled one.
    expect(writes[throttled + 1]).toMatchObject({ kind: 'nsg.write', path: writes[throttled]!.path, status: 201 });
    expect(h.arm.getVm(RG, 'vm-a')!.powerState).toBe('running');
    expect(h.arm.getVm(RG, 'vm-b')!.powerState).toBe('running');
  });

  it('VMs get distinct loopback addresses', async () => {
    const other = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-ops'), publicKey: key });
    expect(other.publicIp).not.toBe(h.arm.getVm(RG, 'vm-core')!.ip);
  });

  it('deleteVm powers off with reason "delete" and removes the VM, its NIC, public IP and NSG', async () => {
    h.hooks.clear();
    const vmRef = { resourceGroup: RG, name: 'vm-ops' };
    await h.adapter.deleteVm(vmRef);
    expect(h.hooks.calls).toEqual([expect.objectContaining({ type: 'powerOff', name: 'vm-ops', reason: 'delete' })]);
    expect(await h.adapter.getVmState(vmRef)).toEqual({ exists: false, powerState: 'unknown' });
    const network = h.clients.network;
    await expect(network.networkInterfaces.get(RG, 'vm-ops-nic')).rejects.toMatchObject({ statusCode: 404 });
    await expect(network.publicIPAddresses.get(RG, 'vm-ops-ip')).rejects.toMatchObject({ statusCode: 404 });
    await expect(network.networkSecurityGroups.get(RG, 'vm-ops-nsg')).rejects.toMatchObject({ statusCode: 404 });
  });
});
