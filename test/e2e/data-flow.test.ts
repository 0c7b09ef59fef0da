/**
 * The example platform's data really flows through Apache Kafka: sensor-controller produces readings,
 * sensor-manager and the anomaly model consume them, the dashboard shows them; every service found
 * Kafka and the others through the LCM registry. A consumer restarted through the API resumes from
 * its committed offset; the Kafka VM restarted through the API keeps its topics and the flow resumes.
 * (The VMs are real local VMs: the broker is apache/kafka:3.9.1, Apache Kafka's jars in a container on vm-core.)
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

let p: TestPlatform;
let kafkaAddress: string;

beforeAll(async () => {
  p = await startTestPlatform();
  const boot = await p.run('boot', undefined, 240_000);
  if (boot.output?.status !== 'succeeded') throw new Error(`boot failed: ${JSON.stringify(boot.output)}`);
  const kafka = (await (await p.api('registry/kafka')).json()) as { host: string; port: number };
  kafkaAddress = `${kafka.host}:${kafka.port}`;
}, 300_000);

afterAll(async () => {
  await p?.stop();
});

async function endpointOf(service: string): Promise<string> {
  const e = (await (await p.api(`registry/${service}`)).json()) as { host: string; port: number };
  return `http://${e.host}:${e.port}`;
}
const getJson = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json() as Promise<any>;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutInMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

const admin = async () => {
  const a = new Kafka({ clientId: 'e2e', brokers: [kafkaAddress], logLevel: logLevel.NOTHING }).admin();
  await a.connect();
  return a;
};

it('carries sensor readings from sensor-controller through Kafka to sensor-manager, the anomaly model and the dashboard', async () => {
  const dashboard = await endpointOf('dashboard');
  const summary = await until('readings on the dashboard', async () => {
    const s = await getJson(`${dashboard}/api/summary`);
    return s.readingsLast10s > 0 && Object.keys(s.latest).length === 3 ? s : undefined;
  });
  expect(summary.errors).toEqual([]);
  expect(Object.keys(summary.latest).sort()).toEqual(['humidity-1', 'temp-1', 'temp-2']);
  expect((await getJson(`${await endpointOf('sensor-controller')}/health`)).kafka).toBe('connected');
  expect((await getJson(`${await endpointOf('anomaly-model')}/anomalies`)).scored).toBeGreaterThan(0);
  const html = await (await fetch(dashboard)).text();
  expect(html).toMatch(/\d+ readings through Kafka in the last 10 s/);

  // The readings are in Kafka itself, and both consumer groups have committed offsets there.
  const a = await admin();
  try {
    const ends = await a.fetchTopicOffsets('sensor-readings');
    expect(ends.reduce((n, o) => n + Number(o.offset), 0)).toBeGreaterThan(0);
    for (const groupId of ['sensor-manager', 'anomaly-model']) {
      const [committed] = await until(`${groupId}'s committed offsets`, async () => {
        const offsets = await a.fetchOffsets({ groupId, topics: ['sensor-readings'] });
        return offsets[0].partitions.some((x) => Number(x.offset) > 0) ? offsets : undefined;
      });
      expect(committed.topic).toBe('sensor-readings');
    }
  } finally {
    await a.disconnect();
  }
}, 120_000);

it('a consumer restarted through the API resumes from its committed offset, not from the beginning', async () => {
  const manager = await endpointOf('sensor-manager');
  const a = await admin();
  let committedBefore: Record<number, number>;
  try {
    const [{ partitions }] = await a.fetchOffsets({ groupId: 'sensor-manager', topics: ['sensor-readings'] });
    committedBefore = Object.fromEntries(partitions.map((x) => [x.partition, Number(x.offset)]));
  } finally {
    await a.disconnect();
  }
  const done = await p.run('services/sensor-manager/restart', { reason: 'e2e: consumer restart' });
  expect(done.output.outcome).toBe('restarted');
  const after = await until('readings consumed after the restart', async () => {
    const r = await getJson(`${manager}/readings`);
    return r.consumed > 0 && Object.keys(r.firstOffsets).length > 0 ? r : undefined;
  });
  for (const [partition, first] of Object.entries(after.firstOffsets as Record<string, number>)) {
    // fromBeginning only applies to a group without committed offsets: this one resumes where it was.
    expect(first, `partition ${partition}`).toBeGreaterThanOrEqual(committedBefore[Number(partition)] ?? 0);
    expect(first, `partition ${partition}`).toBeGreaterThan(0);
  }
}, 120_000);

it('restarting the Kafka VM through the API keeps the topics, and the readings flow again', async () => {
  const manager = await endpointOf('sensor-manager');
  const done = await p.run('vms/vm-core/restart', { reason: 'e2e: Kafka VM restart' }, 240_000);
  expect(done.runtimeStatus).toBe('Completed');
  const a = await admin();
  try {
    expect((await a.listTopics()).sort()).toEqual(expect.arrayContaining(['deployments', 'sensor-commands', 'sensor-readings']));
  } finally {
    await a.disconnect();
  }
  const consumedAtRestart = (await getJson(`${manager}/readings`)).consumed as number;
  await until('readings flowing after the Kafka VM restart', async () => {
    const r = await getJson(`${manager}/readings`);
    return r.consumed > consumedAtRestart && r.last10s > 0 ? r : undefined;
  }, 120_000);
}, 400_000);
