/**
 * How the platform's Kafka broker container is run: single-node KRaft, configured through the
 * KAFKA_* environment variables the official apache/kafka image documents (the local image honours
 * the same ones), with its data on a named volume so a restarted container or VM keeps its topics.
 */
import { createHash } from 'node:crypto';
import { kafkaPorts } from '../platform/kafka-ports.js';
import type { ContainerSpec } from './docker-host.js';

/** Where the broker keeps its log directories inside the container (the official image's data path). */
export const KAFKA_DATA_DIR = '/var/lib/kafka/data';
export const KAFKA_VOLUME = 'kafka-data';

export interface KafkaBrokerPlacement {
  image: string;
  /** The VM's name: it seeds the cluster id, so a re-created container finds its formatted data. */
  vm: string;
  /** The address services on other VMs use (the VM's private IP). */
  privateIp: string;
  /** The address the function app reaches the VM at (its public IP on Azure). */
  publicHost: string;
  /** The topology's kafka.port. */
  port: number;
}

/** A KRaft cluster id (a base64url UUID) that stays the same for the same VM. */
export function kafkaClusterId(vm: string): string {
  const bytes = createHash('sha256').update(`lcm-kafka:${vm}`).digest().subarray(0, 16);
  return bytes.toString('base64url');
}

export function kafkaContainerSpec(p: KafkaBrokerPlacement): ContainerSpec {
  const { internal, controller, external } = kafkaPorts(p.port);
  return {
    name: 'kafka',
    image: p.image,
    port: internal,
    ports: [external],
    volumes: { [KAFKA_VOLUME]: KAFKA_DATA_DIR },
    restart: 'unless-stopped',
    env: {
      CLUSTER_ID: kafkaClusterId(p.vm),
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `INTERNAL://:${internal},EXTERNAL://:${external},CONTROLLER://localhost:${controller}`,
      KAFKA_ADVERTISED_LISTENERS: `INTERNAL://${p.privateIp}:${internal},EXTERNAL://${p.publicHost}:${external}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@localhost:${controller}`,
      KAFKA_LOG_DIRS: KAFKA_DATA_DIR,
      // One broker: Kafka's internal topics cannot have the default three replicas.
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      // Topics are the topology's, created by the LCM: a typo in a service must not invent one.
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    },
  };
}

/** The bootstrap address the function app uses. */
export function kafkaExternalAddress(publicHost: string, port: number): string {
  return `${publicHost}:${kafkaPorts(port).external}`;
}
