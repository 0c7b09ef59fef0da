/**
 * The broker stand-in against the real kafkajs 2.2.4 admin client over TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from '../../../local/azure/kafka/broker.js';
import { LoopbackPool } from '../../../local/azure/addresses.js';

const pool = new LoopbackPool();
let broker: KafkaBroker;
let admin: Admin;

beforeAll(async () => {
  broker = await startKafkaBroker({ host: pool.allocate('kafka'), port: 0, nodeId: 7 });
  admin = new Kafka({ clientId: 'broker-test', brokers: [`${broker.host}:${broker.port}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterAll(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

describe('kafkajs admin against the broker stand-in', () => {
  it('advertises itself as the single broker and controller', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster).toEqual({ brokers: [{ nodeId: 7, host: broker.host, port: broker.port }], controller: 7, clusterId: undefined });
  });

  it('creates topics, lists them and describes their partitions', async () => {
    expect(await admin.createTopics({ topics: [{ topic: 'readings', numPartitions: 3 }, { topic: 'commands' }] })).toBe(true);
    expect((await admin.listTopics()).sort()).toEqual(expect.arrayContaining(['commands', 'readings']));
    const { topics } = await admin.fetchTopicMetadata({ topics: ['readings'] });
    expect(topics).toHaveLength(1);
    expect(topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr])).toEqual([
      [0, 7, [7], [7]],
      [1, 7, [7], [7]],
      [2, 7, [7], [7]],
    ]);
    expect(broker.topics()).toEqual(
      expect.arrayContaining([
        { name: 'readings', partitions: 3, replicationFactor: 1 },
        { name: 'commands', partitions: 1, replicationFactor: 1 },
      ]),
    );
  });

  it('answers TOPIC_ALREADY_EXISTS for an existing topic, which kafkajs reports as false', async () => {
    await admin.createTopics({ topics: [{ topic: 'twice', numPartitions: 2 }] });
    expect(await admin.createTopics({ topics: [{ topic: 'twice', numPartitions: 5 }] })).toBe(false);
    expect(broker.topics().find((t) => t.name === 'twice')?.partitions).toBe(2);
  });

  it('refuses invalid partitions and a replication factor one broker cannot hold', async () => {
    const partitions = await admin.createTopics({ topics: [{ topic: 'bad-p', numPartitions: 0 }] }).catch((e) => e);
    expect(partitions.errors.map((e: { type: string }) => e.type)).toEqual(['INVALID_PARTITIONS']);
    const replicas = await admin.createTopics({ topics: [{ topic: 'bad-r', replicationFactor: 3 }] }).catch((e) => e);
    expect(replicas.errors.map((e: { type: string }) => e.type)).toEqual(['INVALID_REPLICATION_FACTOR']);
    const name = await admin.createTopics({ topics: [{ topic: 'bad name!' }] }).catch((e) => e);
    expect(name.errors.map((e: { type: string }) => e.type)).toEqual(['INVALID_TOPIC_EXCEPTION']);
    expect((await admin.listTopics()).filter((t) => t.startsWith('bad'))).toEqual([]);
  });

  it('deletes a topic, and metadata for it then answers UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await admin.createTopics({ topics: [{ topic: 'doomed' }] });
    await admin.deleteTopics({ topics: ['doomed'] });
    expect(await admin.listTopics()).not.toContain('doomed');
    await expect(admin.fetchTopicMetadata({ topics: ['doomed'] })).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('describes topic configs, with the ones given at creation marked non-default', async () => {
    await admin.createTopics({ topics: [{ topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    const { resources } = await admin.describeConfigs({ resources: [{ type: 2, name: 'compacted' }], includeSynonyms: false });
    const entries = Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, [e.configValue, e.isDefault]]));
    expect(entries['cleanup.policy']).toEqual(['compact', false]);
    expect(entries['retention.ms']).toEqual(['604800000', true]);
  });
});
