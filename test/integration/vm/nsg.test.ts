/**
 * The local network enforces each VM's NSG as ARM stores it: the adapter creates a VM (its NSG
 * admits SSH from the VirtualNetwork tag only), and connections from the host are refused or let
 * through as Azure would (the host's public-side address is "the internet", its private-side one is
 * in the VNet, like the function app's VNet integration). Rule changes through the SDK apply to the
 * running VM.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeAdapter, createComputeClients, vmNetworkNames, type ComputeClients } from '../../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../../functions/cloud/credentials.js';
import { publicKeyOf } from '../../../functions/cloud/secrets.js';
import { SshHost } from '../../../functions/cloud/ssh.js';
import { LOCAL_ARM_TOKEN, startLocalAzure, type LocalAzure } from '../../../local/azure/index.js';
import { hang } from '../../helpers/hang-guard.js';

const RG = 'rg-nsg';
let azure: LocalAzure;
let clients: ComputeClients;
let vm: { publicIp: string; privateIp: string };

/** 'open' (accepted), 'refused' (RST: nothing listens) or 'dropped' (no answer: a firewall). */
function probe(host: string, port: number, timeoutMs = 1_500): Promise<'open' | 'refused' | 'dropped'> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: 'open' | 'refused' | 'dropped') => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done('dropped'));
    s.once('connect', () => done('open'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'dropped'));
  });
}

// Rule changes reach the VM's iptables after the ARM operation ends: seconds on a busy machine.
async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  azure = await startLocalAzure({ stopGraceMs: 500 });
  clients = createComputeClients({ subscriptionId: '00000000-0000-0000-0000-000000000000', credential: staticTokenCredential(LOCAL_ARM_TOKEN), endpoint: azure.arm.endpoint, caCert: azure.caCert });
  const compute = new ComputeAdapter({ clients, pollIntervalInMs: 20 });
  await compute.ensureResourceGroup({ resourceGroup: RG, location: 'westeurope' });
  vm = await compute.ensureVm({
    resourceGroup: RG,
    location: 'westeurope',
    vm: { name: 'vm-n', size: 'Standard_B1s', adminUser: 'azureuser', image: { publisher: 'Canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' } },
    publicKey: publicKeyOf(azure.sshPrivateKey, 'VM_SSH_PRIVATE_KEY'),
  });
  // A listener on 8080 in the VM, which no rule of its NSG names. It ignores socket errors: a probe
  // that hangs up at once resets the connection, and an unhandled reset would end the listener.
  const pins = new Map<string, string>();
  const ssh = new SshHost(
    { vm: 'vm-n', host: vm.privateIp, username: 'azureuser', privateKey: azure.sshPrivateKey },
    { pins: { getHostKey: async (n) => pins.get(n), pinHostKey: async (n, f) => void pins.set(n, f) } },
  );
  await ssh.run(`setsid node -e "require('net').createServer((s) => { s.on('error', () => {}); s.end('hi'); }).listen(8080)" </dev/null >/dev/null 2>&1 &`);
  ssh.dispose();
  await eventually('the listener', async () => (await probe(vm.privateIp, 8080)) === 'open');
}, hang(120_000));

afterAll(async () => {
  await azure?.stop();
});

describe('NSG rules enforced on the local network', () => {
  it('SSH answers the VNet only: the private address from the VNet, never the public one from the internet', async () => {
    await eventually('SSH on the private address', async () => (await probe(vm.privateIp, 22)) === 'open');
    expect(await probe(vm.publicIp, 22)).toBe('dropped');
    // A port no rule names: the VNet gets in (AllowVnetInBound), the internet does not (DenyAllInBound).
    expect(await probe(vm.privateIp, 8080)).toBe('open');
    expect(await probe(vm.publicIp, 8080)).toBe('dropped');
  });

  it('applies a rule change to the running VM: an Allow opens a port to the internet, a Deny of higher priority closes it to the VNet, deleting it reopens', async () => {
    const nsg = vmNetworkNames(RG, 'vm-n').nsg;
    const rule = (access: 'Allow' | 'Deny', priority: number, source: string) => ({
      protocol: 'Tcp',
      sourcePortRange: '*',
      destinationPortRange: '8080',
      sourceAddressPrefix: source,
      destinationAddressPrefix: '*',
      access,
      priority,
      direction: 'Inbound',
    });
    await clients.network.securityRules.beginCreateOrUpdateAndWait(RG, nsg, 'allow-web', rule('Allow', 900, 'Internet'), { updateIntervalInMs: 20 });
    await eventually('8080 open to the internet', async () => (await probe(vm.publicIp, 8080)) === 'open');
    // SSH stays closed to the internet: the rule names 8080 only.
    expect(await probe(vm.publicIp, 22)).toBe('dropped');

    await clients.network.securityRules.beginCreateOrUpdateAndWait(RG, nsg, 'deny-web-vnet', rule('Deny', 800, 'VirtualNetwork'), { updateIntervalInMs: 20 });
    await eventually('8080 closed to the VNet', async () => (await probe(vm.privateIp, 8080)) === 'dropped');
    expect(await probe(vm.publicIp, 8080)).toBe('open');
    expect(await probe(vm.privateIp, 22)).toBe('open');

    await clients.network.securityRules.beginDeleteAndWait(RG, nsg, 'deny-web-vnet', { updateIntervalInMs: 20 });
    await eventually('8080 open to the VNet again', async () => (await probe(vm.privateIp, 8080)) === 'open');
  }, hang(150_000));

  it('keeps the rules across a power cycle', async () => {
    const compute = new ComputeAdapter({ clients, pollIntervalInMs: 20 });
    await compute.restartVm({ resourceGroup: RG, name: 'vm-n' });
    expect(await probe(vm.privateIp, 22)).toBe('open');
    expect(await probe(vm.publicIp, 22)).toBe('dropped');
  }, hang(60_000));
});
