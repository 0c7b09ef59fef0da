/**
 * How startKafka runs the broker container: the official image's KAFKA_* variables, listeners
 * advertised at the addresses each side uses, a stable cluster id, the data on a named volume.
 */
import { expect, it } from 'vitest';
import { kafkaClusterId, kafkaContainerSpec, kafkaExternalAddress } from '../../functions/cloud/kafka-broker.js';
import { kafkaPorts } from '../../functions/platform/kafka-ports.js';

const spec = kafkaContainerSpec({ image: 'lcm/kafka:abc', vm: 'vm-core', privateIp: '10.0.0.4', publicHost: '20.1.2.3', port: 9092 });

it('advertises the private address to services and the public one to the function app, never localhost', () => {
  expect(spec.env.KAFKA_ADVERTISED_LISTENERS).toBe('INTERNAL://10.0.0.4:9092,EXTERNAL://20.1.2.3:9094');
  expect(spec.env.KAFKA_LISTENERS).toBe('INTERNAL://:9092,EXTERNAL://:9094,CONTROLLER://localhost:9093');
  expect(spec.env.KAFKA_ADVERTISED_LISTENERS).not.toMatch(/localhost|127\.0\.0\.1/);
  expect(kafkaExternalAddress('20.1.2.3', 9092)).toBe('20.1.2.3:9094');
  expect([spec.port, ...(spec.ports ?? [])]).toEqual([9092, 9094]); // the controller port is not published
});

it('is a single-node KRaft broker and controller in the form the official image documents', () => {
  expect(spec.env).toMatchObject({
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_LOG_DIRS: '/var/lib/kafka/data',
  });
  expect(spec.volumes).toEqual({ 'kafka-data': '/var/lib/kafka/data' });
  expect(spec.restart).toBe('unless-stopped');
});

it('keeps one cluster id per VM (a re-created container finds its formatted data), in KRaft form', () => {
  expect(kafkaClusterId('vm-core')).toBe(spec.env.CLUSTER_ID);
  expect(kafkaClusterId('vm-core')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(kafkaClusterId('vm-other')).not.toBe(kafkaClusterId('vm-core'));
});

it('refuses a kafka.port that leaves no room for the other listeners', () => {
  expect(kafkaPorts(65533)).toEqual({ internal: 65533, controller: 65534, external: 65535 });
  expect(() => kafkaPorts(65534)).toThrow(/kafka.port 65534 leaves no room/);
});
