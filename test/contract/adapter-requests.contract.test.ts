/**
 * The requests our adapters really send, held to the contract suite: the compute adapter runs a
 * VM's whole life (resource group, network, create, read, restart, power off, start, deallocate,
 * delete, a second ensure that only reads, and a VM whose virtual network lacks the subnet) against
 * the ARM emulator over the real SDK, and
 * every request it makes is recorded as it arrived (method, path, api-version, body). Each must be
 * an operation a fixture of test/contract/fixtures covers (so the suite covers every ARM operation
 * the adapters call), at the fixture's api-version; a write's body must carry what the spec's
 * example request carries for it (the members a create needs), and validate against the
 * operation's request schema derived from the pinned swagger (test/contract/fixtures/schemas:
 * types, enum values, required members, no undeclared member, no readOnly member).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmRequestRecord } from '../../local/azure/arm/index.js';
import { LOCATION, publicKeyLine, startHarness, vmSpec, type Harness } from '../integration/arm/harness.js';
import { loadRequestSchemas, readOnlyPaths, validatorFor } from './request-schemas.js';
import { fixtureNames, loadFixture, type ContractFixture } from './spec.js';

const RG = 'rg-requests';

/**
 * An ARM path as a pattern: names become wildcards, the rest (providers, types, actions) stays.
 * `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}...][/{action}]`
 */
function shapeOf(path: string): string {
  const seg = path.split('/').filter(Boolean);
  return seg.map((s, i) => (i === 1 || i === 3 || (i >= 6 && (i - 6) % 2 === 1) ? '*' : s.toLowerCase())).join('/');
}

/** Every property path of a JSON value (`a.b`, arrays as `a[]`), leaves and objects alike. */
function pathsOf(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => pathsOf(v, `${prefix}[]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return [p, ...pathsOf(v, p)];
  });
}

describe("the adapters' ARM requests are the contract suite's operations", () => {
  let h: Harness;
  const requests: ArmRequestRecord[] = [];
  let recording = true;
  const fixtures: ContractFixture[] = fixtureNames().map(loadFixture);
  const schemas = loadRequestSchemas();
  const byShape = new Map<string, ContractFixture>();
  for (const f of fixtures) byShape.set(`${f.method} ${shapeOf(f.path)}`, f);

  beforeAll(async () => {
    h = await startHarness({ onRequest: (r) => recording && requests.push(r) });
    const ref = { resourceGroup: RG, name: 'vm-requests' };
    const input = { resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-requests'), publicKey: publicKeyLine(), inboundPorts: [9092] };
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION, tags: { 'lcm-platform': 'contract' } });
    await h.adapter.ensureVm(input);
    await h.adapter.ensureVm(input); // warm: reads only
    await h.adapter.getVmState(ref);
    await h.adapter.restartVm(ref);
    await h.adapter.powerOffVm(ref);
    await h.adapter.startVm(ref);
    await h.adapter.deallocateVm(ref);
    await h.adapter.deleteVm(ref);
    // A resource group whose virtual network lacks the subnet: the adapter adds it
    // (Subnets_CreateOrUpdate). The network is made by the test, so it is left out of the record.
    const rg2 = `${RG}-subnet`;
    await h.adapter.ensureResourceGroup({ resourceGroup: rg2, location: LOCATION });
    recording = false;
    await h.clients.network.virtualNetworks.beginCreateOrUpdateAndWait(rg2, `${rg2}-vnet`, { location: LOCATION, addressSpace: { addressPrefixes: ['10.42.0.0/16'] } }, { updateIntervalInMs: 10 });
    recording = true;
    await h.adapter.ensureVm({ ...input, resourceGroup: rg2, vm: vmSpec('vm-subnet') });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const calls = () => requests.filter((r) => !/\/providers\/[^/]+\/locations\/[^/]+\/(operations|operationResults)\//i.test(r.path));

  it('every request is an operation a fixture covers, at the fixture’s api-version', () => {
    expect(calls().length).toBeGreaterThan(10);
    const uncovered = [...new Set(calls().filter((r) => !byShape.has(`${r.method} ${shapeOf(r.path)}`)).map((r) => `${r.method} ${shapeOf(r.path)}`))];
    expect(uncovered, 'operations the adapters call without a contract fixture').toEqual([]);
    for (const r of calls()) {
      const f = byShape.get(`${r.method} ${shapeOf(r.path)}`)!;
      expect(r.apiVersion, `${f.operationId} (${r.method} ${r.path})`).toBe(f.apiVersion);
    }
  });

  it("a write's body has the members the example request has", () => {
    const writes = calls().filter((r) => r.method === 'PUT');
    expect(writes.length).toBeGreaterThan(5);
    for (const r of writes) {
      const f = byShape.get(`${r.method} ${shapeOf(r.path)}`)!;
      const sent = new Set(pathsOf(r.body));
      // The example request's members the LCM relies on: every top-level and `properties.*` one
      // that is an object or scalar the create needs (the examples are minimal requests).
      const needed = pathsOf(f.request).filter((p) => REQUIRED_BY_EXAMPLE.test(p));
      for (const p of needed) expect(sent.has(p), `${f.operationId}: ${p} (sent ${[...sent].join(', ')})`).toBe(true);
    }
  });

  it("every write's body validates against its operation's request schema from the swagger", () => {
    const writes = calls().filter((r) => r.method === 'PUT');
    const validated = new Set<string>();
    for (const r of writes) {
      const f = byShape.get(`${r.method} ${shapeOf(r.path)}`)!;
      const file = schemas.get(f.operationId);
      expect(file, `${f.operationId}: no request schema in test/contract/fixtures/schemas`).toBeDefined();
      expect(file!.source.apiVersion, `${f.operationId}: the schema's api-version`).toBe(r.apiVersion);
      // Data with a provenance: the swagger file at the pinned api-version, its commit (or where it was read), its definitions.
      expect(file!.source.path, f.operationId).toContain(`/stable/${r.apiVersion}/`);
      expect(file!.source.commit ?? file!.source.readFrom, `${f.operationId}: commit or transcription`).toBeTruthy();
      expect(file!.source.definitions.length, f.operationId).toBeGreaterThan(0);
      expect(validatorFor(file!).problems(r.body), `${f.operationId} (${r.path})`).toEqual([]);
      validated.add(f.operationId);
    }
    expect([...validated].sort()).toEqual([...schemas.keys()].sort());
  });

  it("no write sends a member the swagger marks readOnly (the schemas' readOnly members, not a hand-written list)", () => {
    for (const r of calls().filter((c) => c.method === 'PUT')) {
      const f = byShape.get(`${r.method} ${shapeOf(r.path)}`)!;
      const owned = new Set(readOnlyPaths(schemas.get(f.operationId)!.schema));
      // Never empty: every resource's provisioningState is the service's (so the check cannot pass vacuously).
      expect(owned.has('properties.provisioningState'), `${f.operationId}: readOnly ${[...owned].join(', ')}`).toBe(true);
      // What the hand-written list this replaces named as the service's is readOnly in the swagger too.
      for (const p of OLD_SERVICE_OWNED[f.operationId] ?? []) expect(owned.has(p), `${f.operationId}: ${p} readOnly`).toBe(true);
      const sent = pathsOf(r.body).filter((p) => owned.has(p));
      expect(sent, `${f.operationId}: members only the service sets`).toEqual([]);
    }
  });

  it('the schemas refuse what Azure refuses: a readOnly member, a wrong enum value, an unknown member, a missing required one', () => {
    const vmPut = calls().find((r) => r.method === 'PUT' && /\/virtualMachines\/[^/]+$/i.test(r.path))!;
    const nsgPut = calls().find((r) => r.method === 'PUT' && /\/networkSecurityGroups\/[^/]+$/i.test(r.path))!;
    const vm = validatorFor(schemas.get('VirtualMachines_CreateOrUpdate')!);
    const nsg = validatorFor(schemas.get('NetworkSecurityGroups_CreateOrUpdate')!);
    // The real bodies pass (the controls below change one member each).
    expect(vm.problems(vmPut.body)).toEqual([]);
    expect(nsg.problems(nsgPut.body)).toEqual([]);
    const mutate = (body: unknown, change: (b: Record<string, any>) => void) => {
      const copy = structuredClone(body) as Record<string, any>;
      change(copy);
      return copy;
    };
    expect(vm.problems(mutate(vmPut.body, (b) => (b['properties'].provisioningState = 'Succeeded')))).toEqual(['/properties/provisioningState: readOnly, set by the service']);
    expect(vm.problems(mutate(vmPut.body, (b) => (b['properties'].vmId = '00000000-0000-0000-0000-000000000000')))).toEqual(['/properties/vmId: readOnly, set by the service']);
    expect(vm.problems(mutate(vmPut.body, (b) => (b['properties'].storageProfile.osDisk.managedDisk.storageAccountType = 'StandardSSD')))[0]).toMatch(/^\/properties\/storageProfile\/osDisk\/managedDisk\/storageAccountType: must be equal to one of the allowed values/);
    expect(vm.problems(mutate(vmPut.body, (b) => (b['properties'].osProfile.linuxConfiguration.ssh.publicKey = b['properties'].osProfile.linuxConfiguration.ssh.publicKeys)))).toEqual(['/properties/osProfile/linuxConfiguration/ssh: unknown member "publicKey"']);
    expect(vm.problems(mutate(vmPut.body, (b) => delete b['properties'].storageProfile.osDisk.createOption))).toEqual(["/properties/storageProfile/osDisk: must have required property 'createOption'"]);
    expect(vm.problems(mutate(vmPut.body, (b) => delete b['location']))).toEqual(["(body): must have required property 'location'"]);
    expect(nsg.problems(mutate(nsgPut.body, (b) => (b['properties'].securityRules[0].properties.protocol = 'TCP')))[0]).toMatch(/^\/properties\/securityRules\/0\/properties\/protocol: must be equal to one of the allowed values/);
    expect(nsg.problems(mutate(nsgPut.body, (b) => (b['properties'].securityRules[0].properties.priority = '1000')))).toEqual(['/properties/securityRules/0/properties/priority: must be integer']);
  });

  it('the api-versions are the ones the fixtures pin, one per provider', () => {
    const perProvider = new Map<string, Set<string>>();
    for (const r of calls()) {
      const provider = /\/providers\/([^/]+)/.exec(r.path)?.[1]?.toLowerCase() ?? 'microsoft.resources';
      perProvider.set(provider, (perProvider.get(provider) ?? new Set()).add(r.apiVersion ?? ''));
    }
    expect(Object.fromEntries([...perProvider].map(([p, v]) => [p, [...v]]))).toEqual({
      'microsoft.resources': ['2021-04-01'],
      'microsoft.network': ['2025-05-01'],
      'microsoft.compute': ['2026-03-01'],
    });
  });
});

/** The service-owned members the suite's former hand-written list named, per operation (now read from the schemas). */
const OLD_SERVICE_OWNED: Record<string, string[]> = {
  VirtualMachines_CreateOrUpdate: ['etag', 'properties.provisioningState', 'properties.vmId', 'properties.timeCreated', 'properties.instanceView'],
  NetworkSecurityGroups_CreateOrUpdate: ['etag', 'properties.provisioningState', 'properties.resourceGuid', 'properties.defaultSecurityRules'],
  NetworkInterfaces_CreateOrUpdate: ['etag', 'properties.provisioningState', 'properties.resourceGuid', 'properties.macAddress'],
  PublicIPAddresses_CreateOrUpdate: ['etag', 'properties.provisioningState', 'properties.resourceGuid'],
  VirtualNetworks_CreateOrUpdate: ['etag', 'properties.provisioningState', 'properties.resourceGuid'],
};

/** The members of an example request a create cannot go without (location, and the resource's own core). */
const REQUIRED_BY_EXAMPLE =
  /^(location|properties\.hardwareProfile\.vmSize|properties\.storageProfile\.imageReference\.(publisher|offer|sku|version)|properties\.osProfile\.(adminUsername|computerName)|properties\.osProfile\.linuxConfiguration\.ssh\.publicKeys\[\]\.(path|keyData)|properties\.networkProfile\.networkInterfaces\[\]\.id|properties\.addressSpace\.addressPrefixes|properties\.addressPrefix|properties\.ipConfigurations\[\]\.name|properties\.ipConfigurations\[\]\.properties\.subnet\.id)$/;
