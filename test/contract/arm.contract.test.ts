/**
 * The ARM emulator against the public REST specs: every ARM operation the LCM's adapters and
 * bootstrap-cli's VM path call is driven over HTTPS with the request of a spec example
 * (test/contract/fixtures, pinned to their azure-rest-api-specs commit), at the api-version the
 * SDK in node_modules sends; the answer must have a status code the spec lists, the LRO headers it
 * declares, and the example's properties with the example's JSON types. Then what ARM refuses is
 * refused, with CloudError bodies.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackPool } from '../../local/azure/addresses.js';
import { ARM_LRO_RETRY_AFTER, startArmEmulator, type ArmEmulator, type LroKind } from '../../local/azure/arm/index.js';
import { generateLocalTls, type LocalTls } from '../../local/azure/tls.js';
import { RecordingHooks } from '../integration/arm/harness.js';
import { rawArm, type Answer } from './raw-arm.js';
import { cloudErrorProblems, fixtureNames, loadFixture, shapeDifferences, substitute, type ContractFixture } from './spec.js';

const SUB = '00000000-0000-0000-0000-0000000000c7';
const RG = 'rg-contract';
const NAMES: Record<string, string> = {
  '{subscription-id}': SUB,
  subid: SUB,
  '00000000-0000-0000-0000-000000000000': SUB,
  myResourceGroup: RG,
  rg1: RG,
  'subnet-test': RG,
  'my-resource-group': 'rg-contract-created',
  myVM: 'vm-contract',
  'test-vnet': 'vnet-contract',
  vnetname: 'vnet-contract',
  'rg1-vnet': 'vnet-contract',
  subnet1: 'subnet-contract',
  default: 'subnet-contract',
  testnsg: 'nsg-contract',
  'test-ip': 'pip-contract',
  'test-nic': 'nic-contract',
  '{existing-nic-name}': 'nic-contract',
  '{your-username}': 'azureuser',
  '{image_publisher}': 'Canonical',
  '{image_offer}': '0001-com-ubuntu-server-jammy',
  '{image_sku}': '22_04-lts-gen2',
};

const LRO_KINDS: LroKind[] = ['resourceGroup.delete', 'vnet.write', 'subnet.write', 'nsg.write', 'publicIp.write', 'nic.write', 'network.delete', 'vm.create', 'vm.update', 'vm.start', 'vm.restart', 'vm.powerOff', 'vm.deallocate', 'vm.delete', 'deployment.write'];

describe('the ARM emulator holds to the REST specs (x-ms-examples)', () => {
  let tls: LocalTls;
  let arm: ArmEmulator;
  let agent: https.Agent;
  const seen = new Set<string>();

  const call = rawArm(() => arm.endpoint, () => agent);

  /** The provider of an ARM path (`/providers/{namespace}/...`, resource groups: Microsoft.Resources). */
  const providerOf = (url: string) => (/\/providers\/([^/]+)/.exec(new URL(url, 'https://x').pathname)?.[1] ?? 'Microsoft.Resources').toLowerCase();
  /** Running polls seen per provider, each with the Retry-After the provider sends. */
  const runningPolls = new Map<string, number>();

  /**
   * The Retry-After real ARM sends for this provider and phase (the SDKs' recorded traffic, in
   * local/azure/arm/retry-after.ts), in whole seconds: the emulator runs here at scale 1.
   */
  function expectRetryAfter(what: string, url: string, answer: Answer, phase: 'initial' | 'poll'): void {
    const provider = providerOf(url);
    const expected = ARM_LRO_RETRY_AFTER[provider]?.[phase];
    expect(expected, `${what}: a recorded Retry-After for ${provider}`).toBeDefined();
    expect(answer.headers['retry-after'], `${what}: Retry-After (${phase})`).toBe(String(expected));
  }

  /** Follows an LRO the way the spec's final-state-via says, polling fast (the suite does not wait out Retry-After). */
  async function settle(f: ContractFixture | { operationId: string; lro: { finalStateVia: 'location' | 'azure-async-operation' } }, first: Answer): Promise<void> {
    const url = f.lro!.finalStateVia === 'location' ? first.headers['location'] : first.headers['azure-asyncoperation'];
    expect(url, `${f.operationId}: the header its final-state-via names`).toBeTruthy();
    for (let i = 0; i < 500; i++) {
      const poll = await call('GET', url!);
      const running = f.lro!.finalStateVia === 'location' ? poll.status === 202 : poll.body?.status === 'InProgress';
      if (running) {
        expectRetryAfter(`${f.operationId} poll`, url!, poll, 'poll');
        runningPolls.set(providerOf(url!), (runningPolls.get(providerOf(url!)) ?? 0) + 1);
      } else expect(poll.headers['retry-after'], `${f.operationId}: no Retry-After once the operation has ended`).toBeUndefined();
      if (f.lro!.finalStateVia === 'location') {
        if (poll.status !== 202) {
          expect(poll.status, `${f.operationId}: the Location URL ends 200 or 204`).toBeOneOf([200, 204]);
          return;
        }
      } else {
        expect(poll.status).toBe(200);
        if (poll.body.status !== 'InProgress') {
          expect(poll.body.status, `${f.operationId}: the async operation ends Succeeded`).toBe('Succeeded');
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${f.operationId}: the operation never ended`);
  }

  /** Sends the fixture's request, checks status, LRO headers and shape, and waits for the operation. */
  async function exercise(name: string, expectedStatus: number): Promise<Answer> {
    const f = loadFixture(name);
    seen.add(name);
    const path = substitute(f.path, NAMES);
    const answer = await call(f.method, path, f.apiVersion, f.request === undefined ? undefined : substitute(f.request, NAMES), f.query);
    expect(answer.status, `${f.operationId}: ${JSON.stringify(answer.body)}`).toBe(expectedStatus);
    expect(f.statuses, `${f.operationId}: a status the spec lists`).toContain(answer.status);
    const example = f.responses[String(answer.status)];
    const paths = f.check[String(answer.status)] ?? [];
    expect(shapeDifferences(substitute(example, NAMES), answer.body, paths), `${f.operationId} ${answer.status}`).toEqual([]);
    if (answer.headers['azure-asyncoperation'] || answer.headers['location']) {
      // Every LRO response, whether or not the spec declares the header: real ARM sends it (recordings).
      expectRetryAfter(f.operationId, path, answer, 'initial');
    }
    if (f.lro && f.lro.status === answer.status) {
      for (const header of f.lro.headers) {
        const value = answer.headers[header.toLowerCase()];
        expect(value, `${f.operationId} ${answer.status}: ${header}`).toBeDefined();
        if (header === 'Retry-After') expect(value, `${f.operationId}: Retry-After is an integer (seconds)`).toMatch(/^\d+$/);
        else expect(() => new URL(value!), `${f.operationId}: ${header} is a URL`).not.toThrow();
      }
      await settle(f, answer);
    }
    return answer;
  }

  beforeAll(async () => {
    tls = generateLocalTls();
    // Retry-After as Azure sends it (scale 1); the suite polls faster and does not wait it out. Each
    // operation runs 100 ms, so the suite's first poll (at once) finds it running and sees that header.
    const latency = Object.fromEntries(LRO_KINDS.map((k) => [k, 100]));
    arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks: new RecordingHooks(), retryAfterScale: 1, latency });
    agent = new https.Agent({ ca: tls.cert, keepAlive: true });
    const rg = await call('PUT', `/subscriptions/${SUB}/resourceGroups/${RG}`, '2021-04-01', { location: 'westus' });
    expect(rg.status).toBe(201);
  });
  afterAll(async () => {
    agent?.destroy();
    await arm?.stop();
  });

  it('ResourceGroups_CreateOrUpdate: 201, the example shape, synchronous', async () => {
    const answer = await exercise('resources.resource-group-create', 201);
    expect(answer.headers['azure-asyncoperation']).toBeUndefined();
    await exercise('resources.resource-group-get', 200);
  });

  it('the network a VM needs, from the Network examples at 2025-05-01', async () => {
    await exercise('network.vnet-create', 201);
    await exercise('network.subnet-create', 201);
    await exercise('network.subnet-get', 200);
    await exercise('network.nsg-create', 201);
    await exercise('network.public-ip-create', 201);
    await exercise('network.nic-create', 201);
    // After the NIC: the public IP points back at the IP configuration using it.
    await exercise('network.public-ip-get', 200);
    await exercise('network.vnet-get', 200);
    const nsg = await exercise('network.nsg-get', 200);
    expect(nsg.body.properties.defaultSecurityRules.map((r: { name: string }) => r.name)).toEqual(['AllowVnetInBound', 'AllowAzureLoadBalancerInBound', 'DenyAllInBound', 'AllowVnetOutBound', 'AllowInternetOutBound', 'DenyAllOutBound']);
  });

  it('the VM lifecycle, from the Compute examples at 2026-03-01', async () => {
    await exercise('compute.vm-create', 201);
    const vm = await exercise('compute.vm-get', 200);
    expect(vm.body.properties.provisioningState).toBe('Succeeded');
    const view = await exercise('compute.vm-instance-view', 200);
    expect(view.body.statuses.map((s: { code: string }) => s.code)).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
    await exercise('network.nic-get', 200);
    await exercise('compute.vm-poweroff', 202);
    await exercise('compute.vm-start', 202);
    await exercise('compute.vm-restart', 202);
    await exercise('compute.vm-deallocate', 202);
    const stopped = await call('GET', substitute(loadFixture('compute.vm-instance-view').path, NAMES), '2026-03-01');
    expect(stopped.body.statuses.map((s: { code: string }) => s.code)).toContain('PowerState/deallocated');
    await exercise('compute.vm-delete', 202);
    await exercise('network.nic-delete', 202);
    // Once the NIC is gone, what it used.
    await exercise('network.public-ip-delete', 202);
    await exercise('network.nsg-delete', 202);
    // Deleting what is gone: the 204 both specs list.
    await exercise('compute.vm-delete', 204);
    await exercise('network.nic-delete', 204);
    await exercise('network.public-ip-delete', 204);
    await exercise('network.nsg-delete', 204);
  });

  /** Sends a request ARM refuses: the answer is a CloudError with this status and code, and nothing exists after. */
  async function refused(method: string, path: string, apiVersion: string, body: unknown, status: number, code: string): Promise<Answer> {
    const answer = await call(method, path, apiVersion, body);
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(status);
    expect(cloudErrorProblems(answer.body), `${method} ${path}`).toEqual([]);
    expect(answer.body.error.code).toBe(code);
    const after = await call('GET', path, apiVersion.startsWith('2099') ? loadFixture(fixtureFor(path)).apiVersion : apiVersion);
    expect(after.status, `${path} was not created`).toBe(404);
    return answer;
  }
  const fixtureFor = (path: string) => (/Microsoft\.Compute/.test(path) ? 'compute.vm-create' : /Microsoft\.Network/.test(path) ? 'network.vnet-create' : 'resources.resource-group-create');

  it('an api-version the provider does not have: 400 NoRegisteredProviderFound on every write of the fixtures, nothing created', async () => {
    for (const name of fixtureNames()) {
      const f = loadFixture(name);
      if (f.method !== 'PUT') continue;
      const path = substitute(f.path, NAMES).replace(/contract/g, 'refused');
      const body = substitute(f.request, NAMES);
      if (name.startsWith('resources.')) {
        await refused('PUT', path, '2099-01-01', body, 400, 'NoRegisteredProviderFound');
        continue;
      }
      const answer = await call('PUT', path, '2099-01-01', body);
      expect(answer.status, name).toBe(400);
      expect(cloudErrorProblems(answer.body), name).toEqual([]);
      expect(answer.body.error.code, name).toBe('NoRegisteredProviderFound');
      expect(answer.body.error.message, name).toContain(f.apiVersion);
    }
  });

  it('a tracked resource without location: 400 LocationRequired (location is required by TrackedResource), nothing created', async () => {
    for (const name of fixtureNames()) {
      const f = loadFixture(name);
      const body = f.request as Record<string, unknown> | undefined;
      if (f.method !== 'PUT' || !body || body['location'] === undefined) continue;
      const { location: _dropped, ...rest } = substitute(body, NAMES);
      const path = substitute(f.path, NAMES).replace(/contract(?=[^/]*$)/, 'nolocation');
      await refused('PUT', path, f.apiVersion, rest, 400, 'LocationRequired');
    }
  });

  it("names Azure refuses: the provider's 400, nothing created", async () => {
    const base = `/subscriptions/${SUB}/resourceGroups`;
    for (const rg of ['rg-ends-with-period.', 'rg with space', 'rg!', 'r'.repeat(91)]) {
      await refused('PUT', `${base}/${encodeURIComponent(rg)}`, '2021-04-01', { location: 'westus' }, 400, 'InvalidResourceGroup');
    }
    const net = (type: string, name: string) => `${base}/${RG}/providers/Microsoft.Network/${type}/${encodeURIComponent(name)}`;
    const vnet = substitute(loadFixture('network.vnet-create').request, NAMES);
    for (const name of ['v', '-vnet', 'vnet.', 'vnet name', 'v'.repeat(65)]) await refused('PUT', net('virtualNetworks', name), '2025-05-01', vnet, 400, 'InvalidResourceName');
    const nsg = substitute(loadFixture('network.nsg-create').request, NAMES);
    for (const name of ['nsg-', 'n'.repeat(81), 'nsg$']) await refused('PUT', net('networkSecurityGroups', name), '2025-05-01', nsg, 400, 'InvalidResourceName');
    const vm = substitute(loadFixture('compute.vm-create').request, NAMES);
    for (const name of ['vm name', '_vm', 'vm-', 'vm.', 'vm@1', 'v'.repeat(65)]) {
      const answer = await refused('PUT', `${base}/${RG}/providers/Microsoft.Compute/virtualMachines/${encodeURIComponent(name)}`, '2026-03-01', vm, 400, 'InvalidParameter');
      expect(answer.body.error.target).toBe('vmName');
    }
  });

  it('other refusals answer CloudError bodies: no bearer token (401), a missing VM (404), no api-version (400)', async () => {
    const vmPath = substitute(loadFixture('compute.vm-get').path, NAMES).replace('vm-contract', 'vm-missing');
    const noAuth = await new Promise<Answer>((resolve, reject) => {
      const req = https.request(new URL(`${arm.endpoint}${vmPath}?api-version=2026-03-01`), { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: {}, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(noAuth.status).toBe(401);
    expect(cloudErrorProblems(noAuth.body)).toEqual([]);
    const missing = await call('GET', vmPath, '2026-03-01');
    expect(missing.status).toBe(404);
    expect(cloudErrorProblems(missing.body)).toEqual([]);
    expect(missing.body.error.code).toBe('ResourceNotFound');
    const noVersion = await call('GET', vmPath);
    expect(noVersion.status).toBe(400);
    expect(cloudErrorProblems(noVersion.body)).toEqual([]);
    expect(noVersion.body.error.code).toBe('MissingApiVersionParameter');
  });

  it('ResourceGroups_Delete: 202 with Location and Retry-After 15, its 202 polls too', async () => {
    const path = `/subscriptions/${SUB}/resourceGroups/rg-contract-created`;
    const answer = await call('DELETE', path, '2021-04-01');
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(() => new URL(answer.headers['location']!)).not.toThrow();
    expectRetryAfter('ResourceGroups_Delete', path, answer, 'initial');
    await settle({ operationId: 'ResourceGroups_Delete', lro: { finalStateVia: 'location' } }, answer);
    expect((await call('GET', path, '2021-04-01')).status).toBe(404);
  });

  it('every fixture was exercised, and running polls of every provider answered their Retry-After', () => {
    expect([...seen].sort()).toEqual(fixtureNames());
    expect([...runningPolls.keys()].sort()).toEqual(['microsoft.compute', 'microsoft.network', 'microsoft.resources']);
  });
});
