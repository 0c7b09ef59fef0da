/**
 * The Kafka adapter (functions/cloud/kafka.ts) and the broker container startKafka runs
 * (functions/cloud/kafka-broker.ts), with the real kafkajs client against Apache Kafka in a real
 * container built from the example's image: topics created idempotently, a message produced where
 * services bootstrap and consumed where the function app does, the broker advertising the address
 * each client used (never localhost), and data and topics kept across a restart and a re-created
 * container. No part is optional: without Docker or the image these tests fail.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { ensureTopics, KafkaTopicError, KafkaUnavailableError } from '../../../functions/cloud/kafka.js';
import { LoopbackPool } from '../../../local/azure/addresses.js';
import { freeKafkaPort, prepareBroker, startDockerd, type Dockerd, type RealBroker } from './real-broker.js';
import { hang } from '../../helpers/hang-guard.js';

const TOPICS = [
  { name: 'sensor-readings', partitions: 3, replicationFactor: 1 },
  { name: 'sensor-commands', partitions: 1, replicationFactor: 1 },
  { name: 'deployments', partitions: 1, replicationFactor: 1 },
];
// The product's own default (kafka.startupTimeoutInMs): a JVM's start on a loaded machine.
const WAIT_MS = 300_000;

let dockerd: Dockerd;
let broker: RealBroker;
let startLog: string[] = [];

beforeAll(async () => {
  dockerd = await startDockerd();
  broker = await prepareBroker(dockerd);
  await broker.run();
  // The broker takes seconds to start: the first ensureTopics waits for it, as startKafka's does.
  const first = await ensureTopics({ brokers: [broker.external], topics: TOPICS, waitForBrokerInMs: WAIT_MS, log: (l) => startLog.push(l) }).catch(
    async (e: unknown) => {
      throw new Error(`${(e as Error).message}\nbroker logs:\n${await broker.logs()}`);
    },
  );
  expect(first.created.sort()).toEqual(TOPICS.map((t) => t.name).sort());
}, hang(600_000));

afterAll(async () => {
  await dockerd?.stop();
});

const client = (address: string) =>
  new Kafka({ clientId: 'lcm-test', brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });

async function consumeAll(address: string, topic: string, groupId: string, count: number): Promise<string[]> {
  const consumer = client(address).consumer({ groupId });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${values.length} of ${count} messages from ${topic}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value!.toString());
          if (values.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

it('waited for the starting broker, then created the topics; a second run creates nothing', async () => {
  expect(startLog.some((l) => l.startsWith(`kafka: waiting up to ${WAIT_MS} ms for broker ${broker.external}`))).toBe(true);
  const second = await ensureTopics({ brokers: [broker.external], topics: TOPICS, waitForBrokerInMs: 10_000 });
  expect(second.created).toEqual([]);
  expect(second.existing.sort()).toEqual(TOPICS.map((t) => t.name).sort());
  const admin = client(broker.internal).admin();
  await admin.connect();
  const { topics } = await admin.fetchTopicMetadata({ topics: TOPICS.map((t) => t.name) });
  await admin.disconnect();
  expect(Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]))).toEqual({ 'sensor-readings': 3, 'sensor-commands': 1, deployments: 1 });
}, hang(60_000));

it('advertises to each client the address it came in on: the private one to services, the public one to the function app', async () => {
  for (const [address, host, port] of [
    [broker.internal, broker.privateIp, broker.ports.internal],
    [broker.external, broker.publicHost, broker.ports.external],
  ] as const) {
    const admin = client(address).admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    expect(cluster.brokers, address).toEqual([{ nodeId: 1, host, port }]);
    expect(cluster.brokers[0].host).not.toMatch(/^(localhost|127\.0\.0\.1|0\.0\.0\.0)$/);
  }
}, hang(60_000));

it('delivers a message produced on the services\' listener to a consumer on the function app\'s', async () => {
  const producer = client(broker.internal).producer();
  await producer.connect();
  await producer.send({ topic: 'sensor-readings', messages: [{ key: 'temp-1', value: JSON.stringify({ sensor: 'temp-1', value: 21.5 }) }] });
  await producer.disconnect();
  expect(await consumeAll(broker.external, 'sensor-readings', 'test-cross-listener', 1)).toEqual([JSON.stringify({ sensor: 'temp-1', value: 21.5 })]);
}, hang(120_000));

it('reports a topic the broker refuses, naming it and the reason, and creates nothing', async () => {
  const error = await ensureTopics({
    brokers: [broker.external],
    topics: [{ name: 'wide', partitions: 1, replicationFactor: 3 }],
    waitForBrokerInMs: 10_000,
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KafkaTopicError);
  expect((error as Error).message).toContain('wide: INVALID_REPLICATION_FACTOR');
  const admin = client(broker.external).admin();
  await admin.connect();
  expect(await admin.listTopics()).not.toContain('wide');
  await admin.disconnect();
}, hang(60_000));

it('routes kafkajs log lines to the given log function', async () => {
  const lines: string[] = [];
  await ensureTopics({ brokers: [broker.external], topics: TOPICS.slice(0, 1), waitForBrokerInMs: 10_000, log: (l) => lines.push(l), logLevel: 'debug' });
  expect(lines.some((l) => l.startsWith('kafkajs DEBUG'))).toBe(true);
  expect(lines).toContain(`kafka: topics on ${broker.external}: created [], existing [sensor-readings]`);
}, hang(60_000));

it('gives a clear error naming the broker, how long it waited and what raises that, when none answers before the deadline, without kafkajs console spam', async () => {
  const ip = new LoopbackPool().allocate('never');
  const port = await freeKafkaPort();
  const consoleCalls: unknown[] = [];
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleCalls.push(args));
  }
  const lines: string[] = [];
  const waitSetting = 'kafka.startupTimeoutInMs in the topology';
  const error = await ensureTopics({ brokers: [`${ip}:${port}`], topics: TOPICS, waitForBrokerInMs: 1_500, waitSetting, log: (l) => lines.push(l) }).catch(
    (e: unknown) => e,
  );
  vi.restoreAllMocks();
  expect(error).toBeInstanceOf(KafkaUnavailableError);
  const message = (error as Error).message;
  expect(message).toContain(`${ip}:${port}`);
  expect(message).toContain(`Kafka broker ${ip}:${port} did not answer within 1500 ms (last error: `);
  expect(message).toContain(`To wait longer for a slow start, raise ${waitSetting}.`);
  expect(message).toMatch(/ECONNREFUSED|Connection error/);
  expect(message).toContain('docker ps');
  expect(consoleCalls).toEqual([]);
  expect(lines).toEqual([`kafka: waiting up to 1500 ms for broker ${ip}:${port}`]);
}, hang(20_000));

// Last: it restarts and re-creates the broker container.
it('keeps topics and messages across a container restart and across a re-created container on the same volume', async () => {
  const producer = client(broker.internal).producer();
  await producer.connect();
  await producer.send({ topic: 'deployments', messages: [{ value: 'before-restart' }] });
  await producer.disconnect();

  // What a VM restart does to the container: Docker stops it and starts it again.
  await dockerd.docker(['restart', broker.container]);
  const afterRestart = await ensureTopics({ brokers: [broker.external], topics: TOPICS, waitForBrokerInMs: WAIT_MS });
  expect(afterRestart.created).toEqual([]);
  expect(await consumeAll(broker.internal, 'deployments', 'test-after-restart', 1)).toEqual(['before-restart']);

  // What a re-created container (a new image, a recreate after failed restarts) does: a new container, the same volume.
  await dockerd.docker(['rm', '-f', broker.container]);
  await broker.run();
  const afterRecreate = await ensureTopics({ brokers: [broker.external], topics: TOPICS, waitForBrokerInMs: WAIT_MS }).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}\nbroker logs:\n${await broker.logs()}`);
  });
  expect(afterRecreate.created).toEqual([]);
  expect(afterRecreate.existing.sort()).toEqual(TOPICS.map((t) => t.name).sort());
  expect(await consumeAll(broker.external, 'deployments', 'test-after-recreate', 1)).toEqual(['before-restart']);
}, hang(300_000));
