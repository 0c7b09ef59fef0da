/**
 * SSH host keys known before the first connection: the ensureVm activity derives the VM's key,
 * pins it, and creates the VM with it in customData (cloud-init ssh_keys); the local VM installs it
 * at its first boot. Real ARM emulator, real VMs (sshd), real Cosmos emulator, the app's own code.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureResourceGroup, ensureVm } from '../../../functions/activities/vm.js';
import type { EnsureVmInput, VmInfo } from '../../../functions/activities/contracts.js';
import { ArmOperationError } from '../../../functions/cloud/compute.js';
import { HostKeyMismatchError, HostKeyUnknownError } from '../../../functions/cloud/ssh.js';
import { centralDb, compute, vmPublicKey, withVm } from '../../../functions/deps.js';
import { CONTAINERS } from '../../../functions/cloud/central-db.js';
import { startLocalAzure, type LocalAzure } from '../../../local/azure/index.js';
import { hang } from '../../helpers/hang-guard.js';

const SUB = '00000000-0000-0000-0000-000000000000';
const azureTarget = { subscriptionId: SUB, resourceGroup: 'rg-keys', location: 'westeurope' };
const spec = (name: string) => ({
  name,
  size: 'Standard_B1s',
  adminUser: 'azureuser',
  image: { publisher: 'Canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' },
  sshKeySecret: 'VM_SSH_PRIVATE_KEY',
});
const input = (name: string): EnsureVmInput => ({ azure: azureTarget, vm: spec(name) });
const access = (info: VmInfo) => ({ name: info.name, host: info.publicIp, privateIp: info.privateIp, adminUser: 'azureuser', sshKeySecret: 'VM_SSH_PRIVATE_KEY' });
/** Runs one command on the VM through the app's own SSH path (pins from the central database). */
const whoami = (info: VmInfo) => withVm(access(info), async (_d, ssh) => (await ssh.run('whoami', { step: 'whoami' })).stdout.trim());

let azure: LocalAzure;
const saved = { ...process.env };

beforeAll(async () => {
  azure = await startLocalAzure({ stopGraceMs: 500 });
  // The activities read their settings from the environment, as in the function app.
  Object.assign(process.env, azure.settings({ codeShare: 'code' }), { LCM_ARM_POLL_INTERVAL_MS: '20' });
  // The central database's schema comes from the control plane (the template on Azure).
  await azure.cosmos.provision({ database: 'lcm', containers: Object.values(CONTAINERS) });
  await ensureResourceGroup({ azure: azureTarget });
}, hang(120_000));

afterAll(async () => {
  process.env = saved;
  await azure?.stop();
});

describe('SSH host keys pinned before the first connection', () => {
  it('pins the key the VM is created with, and the first connection verifies against it', async () => {
    const db = await centralDb();
    const info = (await ensureVm(input('vm-keys-a'))) as VmInfo;
    const pin = await db.getHostKey('vm-keys-a');
    expect(pin?.keyId).toMatch(/^[0-9a-f-]{36}$/);
    // What the VM's sshd holds is what was pinned before it existed.
    expect(azure.fleet.get('vm-keys-a')!.hostKeyFingerprint).toBe(pin!.fingerprint);
    expect(await whoami(info)).toBe('azureuser');
    expect((await db.getHostKey('vm-keys-a'))?.fingerprint).toBe(pin!.fingerprint);
    // A second ensure of the running VM neither creates it nor changes the pin.
    expect(((await ensureVm(input('vm-keys-a'))) as VmInfo).created).toBe(false);
    expect((await db.getHostKey('vm-keys-a'))?.keyId).toBe(pin!.keyId);

    // A VM deleted and created again gets a fresh key, pinned again.
    await compute(SUB).deleteVm({ resourceGroup: azureTarget.resourceGroup, name: 'vm-keys-a' });
    const again = (await ensureVm(input('vm-keys-a'))) as VmInfo;
    const repinned = await db.getHostKey('vm-keys-a');
    expect(repinned!.fingerprint).not.toBe(pin!.fingerprint);
    expect(azure.fleet.get('vm-keys-a')!.hostKeyFingerprint).toBe(repinned!.fingerprint);
    expect(await whoami(again)).toBe('azureuser');
  }, hang(120_000));

  it('refuses a VM presenting another key than the pinned one on the very first connection', async () => {
    const db = await centralDb();
    const info = (await ensureVm(input('vm-keys-b'))) as VmInfo;
    const pinned = (await db.getHostKey('vm-keys-b'))!.fingerprint;
    // Someone swaps the VM's host key before the LCM ever connected; the VM boots again with it
    // (cloud-init writes customData's keys at the first boot only).
    const disk = azure.fleet.get('vm-keys-b')!.disk;
    const keyFile = join(disk, 'ssh/ssh_host_ed25519_key');
    rmSync(keyFile);
    rmSync(`${keyFile}.pub`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    await compute(SUB).restartVm({ resourceGroup: azureTarget.resourceGroup, name: 'vm-keys-b' });
    const presented = execFileSync('ssh-keygen', ['-l', '-f', `${keyFile}.pub`], { encoding: 'utf8' }).split(' ')[1];
    expect(presented).not.toBe(pinned);

    const refused = await whoami(info).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HostKeyMismatchError);
    expect(refused).toMatchObject({ vm: 'vm-keys-b', pinned, presented });
    expect((refused as Error).message).toContain('bootstrap-cli reset-host-key vm-keys-b');
    // The pin stays: the refusal is not a re-pin.
    expect((await db.getHostKey('vm-keys-b'))?.fingerprint).toBe(pinned);

    // An operator who trusts the new key resets the pin; the next connection pins what it is shown.
    expect(await db.resetHostKey('vm-keys-b')).toBe(true);
    expect(await whoami(info)).toBe('azureuser');
    expect((await db.getHostKey('vm-keys-b'))?.fingerprint).toBe(presented);
  }, hang(120_000));

  it('refuses a VM no key is pinned for (created outside the LCM) until an operator resets it', async () => {
    const adapter = compute(SUB);
    // Created without customData: the VM generates its own key, nobody pinned it.
    const vm = await adapter.ensureVm({ resourceGroup: azureTarget.resourceGroup, location: azureTarget.location, vm: spec('vm-keys-c'), publicKey: vmPublicKey('VM_SSH_PRIVATE_KEY') });
    const info: VmInfo = { name: 'vm-keys-c', publicIp: vm.publicIp, privateIp: vm.privateIp, powerState: 'running', created: true, started: true };
    const refused = await whoami(info).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HostKeyUnknownError);
    const db = await centralDb();
    expect(await db.getHostKey('vm-keys-c')).toBeUndefined();
    await db.resetHostKey('vm-keys-c');
    expect(await whoami(info)).toBe('azureuser');
    expect((await db.getHostKey('vm-keys-c'))?.fingerprint).toBe(azure.fleet.get('vm-keys-c')!.hostKeyFingerprint);
  }, hang(120_000));

  it('ARM refuses customData that is not base64 or longer than 64 KB, and a change of it', async () => {
    const adapter = compute(SUB);
    const create = (name: string, customData: string) =>
      adapter.ensureVm({ resourceGroup: azureTarget.resourceGroup, location: azureTarget.location, vm: spec(name), publicKey: vmPublicKey('VM_SSH_PRIVATE_KEY'), customData: async () => customData }).catch((e: unknown) => e);
    const message = 'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.';
    for (const bad of ['not base64!', Buffer.alloc(65_536, 'a').toString('base64')]) {
      const err = await create('vm-keys-d', bad);
      expect(err).toBeInstanceOf(ArmOperationError);
      expect(err).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
      expect((err as Error).message).toContain(message);
    }
    const clients = (adapter as unknown as { clients: { compute: import('@azure/arm-compute').ComputeManagementClient } }).clients;
    expect(await clients.compute.virtualMachines.get(azureTarget.resourceGroup, 'vm-keys-d').catch((e: { statusCode?: number }) => e.statusCode)).toBe(404);
    // 64 KB exactly is taken.
    const config = Buffer.from('#cloud-config\n' + '#'.repeat(65_535 - 14)).toString('base64');
    expect(config.length).toBe(87_380);
    const created = await create('vm-keys-d', config);
    expect(created).toMatchObject({ name: 'vm-keys-d', created: true });
    const model = await clients.compute.virtualMachines.get(azureTarget.resourceGroup, 'vm-keys-d');
    // ARM never returns customData.
    expect(model.osProfile?.customData).toBeUndefined();
    const changed = await clients.compute.virtualMachines
      .beginCreateOrUpdateAndWait(azureTarget.resourceGroup, 'vm-keys-d', { ...model, osProfile: { ...model.osProfile, customData: Buffer.from('#cloud-config\n').toString('base64') } }, { updateIntervalInMs: 20 })
      .catch((e: unknown) => e);
    expect(changed).toMatchObject({ statusCode: 409, code: 'PropertyChangeNotAllowed' });
  }, hang(120_000));
});
