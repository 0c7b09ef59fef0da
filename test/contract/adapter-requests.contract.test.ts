/**
 * The requests our adapters really send, held to the contract suite: the compute adapter runs a
 * VM's whole life (resource group, network, create, read, restart, power off, start, deallocate,
 * delete, and a second ensure that only reads) against the ARM emulator over the real SDK, and
 * every request it makes is recorded as it arrived (method, path, api-version, body). Each must be
 * an operation a fixture of test/contract/fixtures covers (so the suite covers every ARM operation
 * the adapters call), at the fixture's api-version, and a write's body must carry what the spec's
 * example request carries for it (the members a create needs) and never a member the example
 * response shows as the service's own (provisioningState, ids it assigns, addresses it allocates).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmRequestRecord } from '../../local/azure/arm/index.js';
import { LOCATION, publicKeyLine, startHarness, vmSpec, type Harness } from '../integration/arm/harness.js';
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

/** Members only the service sets, as the examples' responses show them (never sent by a client). */
const SERVICE_OWNED = /(^|\.)(provisioningState|vmId|resourceGuid|etag|timeCreated|instanceView|macAddress|defaultSecurityRules|ipConfigurations\[\]\.properties\.privateIPAddress$|ipAddress$)/;

describe("the adapters' ARM requests are the contract suite's operations", () => {
  let h: Harness;
  const requests: ArmRequestRecord[] = [];
  const fixtures: ContractFixture[] = fixtureNames().map(loadFixture);
  const byShape = new Map<string, ContractFixture>();
  for (const f of fixtures) byShape.set(`${f.method} ${shapeOf(f.path)}`, f);

  beforeAll(async () => {
    h = await startHarness({ onRequest: (r) => requests.push(r) });
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

  it("a write's body has the members the example request has, and none the service owns", () => {
    const writes = calls().filter((r) => r.method === 'PUT');
    expect(writes.length).toBeGreaterThan(5);
    for (const r of writes) {
      const f = byShape.get(`${r.method} ${shapeOf(r.path)}`)!;
      const sent = new Set(pathsOf(r.body));
      // The example request's members the LCM relies on: every top-level and `properties.*` one
      // that is an object or scalar the create needs (the examples are minimal requests).
      const needed = pathsOf(f.request).filter((p) => REQUIRED_BY_EXAMPLE.test(p));
      for (const p of needed) expect(sent.has(p), `${f.operationId}: ${p} (sent ${[...sent].join(', ')})`).toBe(true);
      const owned = [...sent].filter((p) => SERVICE_OWNED.test(p));
      expect(owned, `${f.operationId}: members only the service sets`).toEqual([]);
    }
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

/** The members of an example request a create cannot go without (location, and the resource's own core). */
const REQUIRED_BY_EXAMPLE =
  /^(location|properties\.hardwareProfile\.vmSize|properties\.storageProfile\.imageReference\.(publisher|offer|sku|version)|properties\.osProfile\.(adminUsername|computerName)|properties\.osProfile\.linuxConfiguration\.ssh\.publicKeys\[\]\.(path|keyData)|properties\.networkProfile\.networkInterfaces\[\]\.id|properties\.addressSpace\.addressPrefixes|properties\.addressPrefix|properties\.ipConfigurations\[\]\.name|properties\.ipConfigurations\[\]\.properties\.subnet\.id)$/;
