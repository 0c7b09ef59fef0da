/**
 * Retry-After on long-running operations, end to end through the real clients: the SDK pipeline
 * the adapters build (createComputeClients) and the CLI's ArmClient wait what ARM advises between
 * polls, bounded (maxLroPollSeconds) so an advice of an hour cannot stall a call, and take 0 (what
 * local mode advertises) as no advice, polling at their own interval. Counts polls, never times.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ArmClient } from '../../../bootstrap-cli/azure/arm.js';
import { staticTokenCredential } from '../../../functions/cloud/credentials.js';
import { LOCATION, putPublicIpRaw, startHarness, SUBSCRIPTION, type Harness } from './harness.js';
import { hang } from '../../helpers/hang-guard.js';

const RG = 'rg-test';

async function harness(options: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(options);
  onTestFinished(() => h.stop());
  await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
  h.arm.log.reset();
  return h;
}

const polls = (h: Harness) => h.arm.log.entries.filter((e) => e.kind === 'operation.poll').length;

/** A public IP created with the adapters' SDK client, asked to poll every 10 ms. */
async function createPublicIp(h: Harness, name: string): Promise<void> {
  await h.clients.network.publicIPAddresses.beginCreateOrUpdateAndWait(
    RG,
    name,
    { location: LOCATION, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static' },
    { updateIntervalInMs: 10 },
  );
}

describe('long-running operations and Retry-After', () => {
  it('the SDK waits the Retry-After ARM sends instead of its own 10 ms interval', async () => {
    // Retry-After 1 s on every LRO answer; the operation runs 1.5 s. core-lro polls at once and
    // takes a poll's advice for the wait after the next one (measured: +25, +43, +1051, +2056 ms):
    // 4 polls, where its own 10 ms interval would make ~150.
    const h = await harness({ asyncPollDelayInMs: 1000, latency: { 'publicIp.write': 1500 } });
    await createPublicIp(h, 'pip-advised');
    expect(polls(h)).toBeLessThanOrEqual(4);
  });

  it('an advice longer than maxLroPollSeconds is bounded: a Retry-After of an hour costs a second', async () => {
    const h = await harness({ asyncPollDelayInMs: 3_600_000, latency: { 'publicIp.write': 1500 }, maxLroPollSeconds: 1 });
    await createPublicIp(h, 'pip-bounded');
    // As above with the advice lowered to 1 s; unbounded, the call would wait an hour.
    expect(polls(h)).toBeLessThanOrEqual(4);
  }, hang(20_000));

  it("local mode's Retry-After 0 is no advice: the SDK polls at its own interval", async () => {
    const h = await harness({ latency: { 'publicIp.write': 300 } });
    const url = `${h.arm.endpoint}/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Network/publicIPAddresses/pip-raw?api-version=2025-05-01`;
    const raw = await fetchPut(h, url);
    expect(raw.get('retry-after')).toBe('0');
    h.arm.log.reset();
    await createPublicIp(h, 'pip-local');
    // ~300 ms / 10 ms: many polls, none of them waited out an advice.
    expect(polls(h)).toBeGreaterThan(5);
  });

  it("the CLI's ArmClient: 0 is no advice (its own interval, no busy loop), an hour is bounded", async () => {
    const h = await harness({ latency: { 'vnet.write': 300 } });
    const vnet = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/${name}`;
    const body = { location: LOCATION, properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } };
    const client = new ArmClient({ credential: staticTokenCredential(), endpoint: h.arm.endpoint, caCert: h.tls.cert, pollIntervalInMs: 20 });
    await client.put('create vnet', vnet('vnet-local'), '2025-05-01', body);
    // Its own 20 ms between polls: a loop that took '0' as "wait 0 ms" would poll back to back.
    const times = h.arm.log.entries.filter((e) => e.kind === 'operation.poll').map((e) => e.time);
    expect(times.length).toBeGreaterThan(1);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `gap before poll ${i + 1}`).toBeGreaterThanOrEqual(15);

    const slow = await harness({ asyncPollDelayInMs: 3_600_000, latency: { 'vnet.write': 1500 } });
    const bounded = new ArmClient({ credential: staticTokenCredential(), endpoint: slow.arm.endpoint, caCert: slow.tls.cert, pollIntervalInMs: 20, maxLroPollSeconds: 1 });
    await bounded.put('create vnet', vnet('vnet-bounded'), '2025-05-01', body);
    // It waits the initial advice (bounded to 1 s) before its first poll: running at ~1 s, done at
    // ~2 s (one poll fewer when a busy machine delays the first past the operation's end). An
    // unbounded wait would be an hour.
    expect(polls(slow)).toBeGreaterThanOrEqual(1);
    expect(polls(slow)).toBeLessThanOrEqual(2);
  }, hang(60_000));
});

/** One raw PUT through the adapters' pipeline, for its headers. */
async function fetchPut(h: Harness, url: string) {
  const response = await putPublicIpRaw(h, url);
  expect(response.status).toBe(201);
  return response.headers;
}
