import https from 'node:https';
import net from 'node:net';
import { AzureCliCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ComputeAdapter, createComputeClients } from '../../../functions/cloud/compute.js';
import { azureCredential } from '../../../functions/cloud/credentials.js';
import { LOCATION, SUBSCRIPTION, publicKeyLine, putPublicIpRaw, startHarness, vmSpec, type Harness } from './harness.js';
import { hang } from '../../helpers/hang-guard.js';

const RG = 'rg-test';

describe('ARM emulator faults and refusals, seen through the real SDK', () => {
  let h: Harness;
  const key = publicKeyLine();

  beforeAll(async () => {
    h = await startHarness();
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
    await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-core'), publicKey: key });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('429 with Retry-After is retried by the SDK after the advertised wait, and logged', async () => {
    h.arm.log.reset();
    h.arm.faults.throttle('vm.read', { count: 1, retryAfterSeconds: 1 });
    const state = await h.adapter.getVmState({ resourceGroup: RG, name: 'vm-core' });
    expect(state.powerState).toBe('running');
    const reads = h.arm.log.entries.filter((e) => e.kind === 'vm.read');
    expect(reads.map((e) => e.status)).toEqual([429, 200]);
    // Retry-After is honoured: the retry is not sent before the advertised second.
    expect(reads[1]!.time - reads[0]!.time).toBeGreaterThanOrEqual(950);
    expect(h.arm.log.counts().throttled).toBe(1);
  });

  it('throttled writes and polls during a power action are retried too', async () => {
    h.arm.log.reset();
    h.arm.faults.throttle('vm.powerOff', { count: 1, retryAfterSeconds: 0 });
    h.arm.faults.throttle('operation.poll', { count: 2, retryAfterSeconds: 0 });
    await h.adapter.powerOffVm({ resourceGroup: RG, name: 'vm-core' });
    const statuses = h.arm.log.entries.filter((e) => e.kind === 'vm.powerOff').map((e) => e.status);
    expect(statuses).toEqual([429, 202]);
    expect(h.arm.log.counts().throttled).toBe(3);
    expect(h.arm.getVm(RG, 'vm-core')!.powerState).toBe('stopped');
    await h.adapter.startVm({ resourceGroup: RG, name: 'vm-core' });
  });

  it('500s are retried by the SDK pipeline', async () => {
    h.arm.log.reset();
    h.arm.faults.serverError('nic.write', { count: 2 });
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-retry'), publicKey: key });
    expect(result.created).toBe(true);
    expect(h.arm.log.entries.filter((e) => e.kind === 'nic.write').map((e) => e.status)).toEqual([500, 500, 201]);
  });

  it('an allocation failure surfaces as an error naming the VM, the step and AllocationFailed; a re-run re-creates', async () => {
    h.arm.faults.failOperation('vm.create', { vmName: 'vm-apps', code: 'AllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.' });
    const input = { resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-apps'), publicKey: key };
    const error = await h.adapter.ensureVm(input).then(
      () => undefined,
      (err: unknown) => err as Error & { code?: string },
    );
    expect(error?.message).toMatch(/^vm "vm-apps": create failed: AllocationFailed: Allocation failed\. .* — try another size or region$/);
    expect(error?.code).toBe('AllocationFailed');
    const state = await h.adapter.getVmState({ resourceGroup: RG, name: 'vm-apps' });
    expect(state).toMatchObject({ exists: true, provisioningState: 'Failed', error: { code: 'AllocationFailed' } });
    expect(h.hooks.calls.some((c) => c.type === 'powerOn' && c.vm.name === 'vm-apps')).toBe(false);

    const retried = await h.adapter.ensureVm(input);
    expect(retried).toMatchObject({ created: true, powerState: 'running' });
  });

  it('a power hook that throws ends the operation Failed with a clear error', async () => {
    const ref = { resourceGroup: RG, name: 'vm-core' };
    await h.adapter.powerOffVm(ref);
    h.hooks.failNextPowerOn = new Error('sshd could not bind 127.0.0.1:22');
    await expect(h.adapter.startVm(ref)).rejects.toThrow(/vm "vm-core": start failed: VMPowerOnFailed: .*sshd could not bind/);
    expect(h.arm.getVm(RG, 'vm-core')).toMatchObject({ powerState: 'stopped', provisioningState: 'Failed' });
    // ensureVm repairs it: start again.
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-core'), publicKey: key });
    expect(result).toMatchObject({ started: true, powerState: 'running' });
  });

  it('a VM with a password is refused with 400 (the adapter never sends one)', async () => {
    const nic = await h.clients.network.networkInterfaces.get(RG, 'vm-core-nic');
    const poller = h.clients.compute.virtualMachines.createOrUpdate(RG, 'vm-password', {
      location: LOCATION,
      hardwareProfile: { vmSize: 'Standard_B2s' },
      storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' } },
      osProfile: { computerName: 'vm-password', adminUsername: 'azureuser', adminPassword: 'N0t-a-real-Passw0rd!', linuxConfiguration: { disablePasswordAuthentication: false } },
      networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
    });
    const err = (await poller.submitted().then(() => undefined, (e: unknown) => e)) as { statusCode?: number; code?: string; message: string };
    expect(err).toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    expect(err.message).toMatch(/Password authentication is refused/);
    expect(err.message).not.toContain('N0t-a-real-Passw0rd!');
    expect(h.arm.getVm(RG, 'vm-password')).toBeUndefined();
  });

  it('a key that is not an OpenSSH public key is refused by the adapter without echoing it', async () => {
    const privateLooking = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    h.arm.log.reset();
    const err = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-bad'), publicKey: privateLooking }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/vm "vm-bad".*PRIVATE key.*VM_SSH_KEY/);
    expect((err as Error).message).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
    expect(h.arm.log.entries).toHaveLength(0);
  });

  it('a request without an Authorization header gets 401', async () => {
    const url = new URL(`${h.arm.endpoint}/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/vm-core?api-version=2026-03-01`);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.get(url, { ca: h.tls.cert }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
    });
    expect(status).toBe(401);
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'AuthenticationFailed' } });
    expect(h.arm.log.entries.at(-1)).toMatchObject({ status: 401, kind: 'vm.read' });
  });

  it('a credential that cannot sign in yields an error that says how to log in', async () => {
    // An empty environment: no service principal, no managed identity endpoint (and no az CLI here).
    const names = ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_USERNAME', 'AZURE_FEDERATED_TOKEN_FILE', 'IDENTITY_ENDPOINT', 'MSI_ENDPOINT', 'AZURE_TOKEN_CREDENTIALS'];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    onTestFinished(() => {
      for (const n of names) if (saved[n] !== undefined) process.env[n] = saved[n];
    });
    for (const credential of [new AzureCliCredential(), azureCredential()]) {
      const clients = createComputeClients({ subscriptionId: SUBSCRIPTION, credential, endpoint: h.arm.endpoint, caCert: h.tls.cert, retry: { maxRetries: 0 } });
      const adapter = new ComputeAdapter({ clients, pollIntervalInMs: 10 });
      const err = (await adapter.getVmState({ resourceGroup: RG, name: 'vm-core' }).catch((e: unknown) => e)) as Error;
      expect(err.name).toBe('AzureSignInError');
      expect(err.message).toMatch(/vm "vm-core"/);
      expect(err.message).toContain('az login');
      expect(err.message).toContain('AZURE_CLIENT_ID');
      expect(err.message).toMatch(/managed identity/);
    }
  }, hang(45_000));
});

describe('ARM emulator shutdown', () => {
  it('stop() leaves no listening port', async () => {
    const h = await startHarness();
    const port = Number(new URL(h.arm.endpoint).port);
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION }); // a keep-alive connection is open
    await h.stop();
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('ARM emulator with asyncPollDelayInMs', () => {
  it('long-running operation responses carry Azure-AsyncOperation and Retry-After like ARM', async () => {
    const h = await startHarness({ asyncPollDelayInMs: 1500 });
    onTestFinished(() => h.stop());
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
    const url = `${h.arm.endpoint}/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Network/publicIPAddresses/raw-ip?api-version=2024-05-01`;
    const response = await putPublicIpRaw(h, url);
    expect(response.status).toBe(201);
    expect(response.headers.get('azure-asyncoperation')).toMatch(new RegExp(`^${h.arm.endpoint}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Network/locations/${LOCATION}/operations/`));
    expect(response.headers.get('retry-after')).toBe('2');
    const body = JSON.parse(response.bodyAsText ?? '{}') as { properties: { provisioningState: string; ipAddress: string } };
    expect(body.properties.provisioningState).toBe('Updating');
    expect(body.properties.ipAddress).toMatch(/^127\./);
  });

  it('a Standard public IP with Dynamic allocation is refused like ARM refuses it', async () => {
    const h = await startHarness();
    onTestFinished(() => h.stop());
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
    await expect(
      h.clients.network.publicIPAddresses.beginCreateOrUpdateAndWait(RG, 'dyn-ip', { location: LOCATION, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Dynamic' }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });
});
