/**
 * ensureTopics (functions/cloud/kafka.ts) with the real kafkajs client against the broker
 * stand-in: idempotence, waiting for a late broker, a clear error for one that never comes.
 */
import net from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { ensureTopics, KafkaTopicError, KafkaUnavailableError } from '../../../functions/cloud/kafka.js';
import { startKafkaBroker, type KafkaBroker } from '../../../local/azure/kafka/broker.js';
import { LoopbackPool } from '../../../local/azure/addresses.js';

const pool = new LoopbackPool();
const brokers: KafkaBroker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  vi.restoreAllMocks();
});

const TOPICS = [
  { name: 'sensor-readings', partitions: 3, replicationFactor: 1 },
  { name: 'sensor-commands', partitions: 1, replicationFactor: 1 },
  { name: 'deployments', partitions: 1, replicationFactor: 1 },
];

/** A port on `ip` that nothing listens on (bound once, then released). */
async function freePort(ip: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

it('creates the topology topics once; a second run reports them all as existing', async () => {
  const broker = await startKafkaBroker({ host: pool.allocate('a'), port: 0 });
  brokers.push(broker);
  const options = { brokers: [`${broker.host}:${broker.port}`], topics: TOPICS, waitForBrokerInMs: 5_000 };

  const first = await ensureTopics(options);
  expect(first.created.sort()).toEqual(TOPICS.map((t) => t.name).sort());
  expect(first.existing).toEqual([]);
  expect(broker.topics()).toEqual(TOPICS.map((t) => ({ ...t })).sort((a, b) => (a.name < b.name ? -1 : 1)));

  const second = await ensureTopics(options);
  expect(second.created).toEqual([]);
  expect(second.existing.sort()).toEqual(TOPICS.map((t) => t.name).sort());
});

it('creates only what is missing when some topics already exist', async () => {
  const broker = await startKafkaBroker({ host: pool.allocate('b'), port: 0 });
  brokers.push(broker);
  const brokersList = [`${broker.host}:${broker.port}`];
  await ensureTopics({ brokers: brokersList, topics: TOPICS.slice(0, 1), waitForBrokerInMs: 5_000 });
  const lines: string[] = [];
  const result = await ensureTopics({ brokers: brokersList, topics: TOPICS, waitForBrokerInMs: 5_000, log: (l) => lines.push(l) });
  expect(result).toEqual({ created: ['sensor-commands', 'deployments'], existing: ['sensor-readings'] });
  // At the default level a healthy run logs one summary line, nothing from kafkajs.
  expect(lines).toEqual([`kafka: topics on ${brokersList[0]}: created [sensor-commands, deployments], existing [sensor-readings]`]);
});

it('waits for a broker that starts late', async () => {
  const ip = pool.allocate('late');
  const port = await freePort(ip);
  const lines: string[] = [];
  const late = new Promise<void>((resolve, reject) => {
    setTimeout(() => {
      startKafkaBroker({ host: ip, port }).then((b) => {
        brokers.push(b);
        resolve();
      }, reject);
    }, 700);
  });
  const result = await ensureTopics({ brokers: [`${ip}:${port}`], topics: TOPICS, waitForBrokerInMs: 15_000, log: (l) => lines.push(l) });
  await late;
  expect(result.created).toHaveLength(3);
  expect(lines.some((l) => l.includes('waiting up to 15000 ms'))).toBe(true);
  expect(lines.some((l) => /answered after \d+ attempts/.test(l))).toBe(true);
});

it('gives a clear error naming the broker when none answers before the deadline, without kafkajs console spam', async () => {
  const ip = pool.allocate('never');
  const port = await freePort(ip);
  const consoleCalls: unknown[] = [];
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleCalls.push(args));
  }
  const lines: string[] = [];
  const error = await ensureTopics({ brokers: [`${ip}:${port}`], topics: TOPICS, waitForBrokerInMs: 1_500, log: (l) => lines.push(l) }).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KafkaUnavailableError);
  const message = (error as Error).message;
  expect(message).toContain(`${ip}:${port}`);
  expect(message).toContain('within 1500 ms');
  expect(message).toMatch(/ECONNREFUSED|Connection error/);
  expect(message).toContain('docker ps');
  expect(consoleCalls).toEqual([]);
  expect(lines).toEqual([`kafka: waiting up to 1500 ms for broker ${ip}:${port}`]);
}, 20_000);

it('reports a topic the broker refuses, naming it and the reason', async () => {
  const broker = await startKafkaBroker({ host: pool.allocate('c'), port: 0 });
  brokers.push(broker);
  const error = await ensureTopics({
    brokers: [`${broker.host}:${broker.port}`],
    topics: [{ name: 'wide', partitions: 1, replicationFactor: 3 }],
    waitForBrokerInMs: 5_000,
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KafkaTopicError);
  expect((error as Error).message).toContain('wide: INVALID_REPLICATION_FACTOR');
  expect(broker.topics()).toEqual([]);
});

it('routes kafkajs log lines to the given log function', async () => {
  const broker = await startKafkaBroker({ host: pool.allocate('d'), port: 0 });
  brokers.push(broker);
  const lines: string[] = [];
  await ensureTopics({
    brokers: [`${broker.host}:${broker.port}`],
    topics: TOPICS.slice(0, 1),
    waitForBrokerInMs: 5_000,
    log: (l) => lines.push(l),
    logLevel: 'debug',
  });
  expect(lines.some((l) => l.startsWith('kafkajs DEBUG'))).toBe(true);
  expect(lines).toContain(`kafka: topics on ${broker.host}:${broker.port}: created [sensor-readings], existing []`);
});
