/**
 * A single-node Kafka broker stand-in speaking enough of the protocol for kafkajs 2.2.4's admin
 * client: ApiVersions 0-2, Metadata 0-1, CreateTopics 0, DeleteTopics 0, DescribeConfigs 0.
 * Topics are metadata only (no Produce/Fetch). It answers like Kafka where the LCM relies on it:
 * TOPIC_ALREADY_EXISTS for an existing topic, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR
 * (one broker), UNKNOWN_TOPIC_OR_PARTITION for metadata of a missing topic.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';
import { FrameReader, responseFrame, type KafkaRequest } from './wire.js';

const API = { Metadata: 3, ApiVersions: 18, CreateTopics: 19, DeleteTopics: 20, DescribeConfigs: 32 } as const;
/** What we offer: kafkajs picks the highest version both sides support. */
const SUPPORTED: Record<number, [min: number, max: number]> = {
  [API.Metadata]: [0, 1],
  [API.ApiVersions]: [0, 2],
  [API.CreateTopics]: [0, 0],
  [API.DeleteTopics]: [0, 0],
  [API.DescribeConfigs]: [0, 0],
};
const ERR = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
} as const;
const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const TOPIC_DEFAULTS: Record<string, string> = {
  'cleanup.policy': 'delete',
  'retention.ms': '604800000',
  'segment.bytes': '1073741824',
  'min.insync.replicas': '1',
};

export interface TopicInfo {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export interface KafkaBrokerOptions {
  /** Address to listen on and (unless advertisedHost is given) to advertise in metadata. */
  host: string;
  /** Address advertised in metadata (Kafka's advertised.listeners). */
  advertisedHost?: string;
  /** 0 picks a free port. */
  port: number;
  /** Default 1; also the controller id. */
  nodeId?: number;
  log?: (line: string) => void;
}

export interface KafkaBroker {
  host: string;
  port: number;
  topics(): TopicInfo[];
  stop(): Promise<void>;
}

interface Topic extends TopicInfo {
  configs: Record<string, string | null>;
}

export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<KafkaBroker> {
  const nodeId = options.nodeId ?? 1;
  const log = options.log ?? (() => {});
  const topics = new Map<string, Topic>();
  const sockets = new Set<net.Socket>();
  let port = options.port;

  const handle = (request: KafkaRequest): Encoder | undefined => {
    const range = SUPPORTED[request.apiKey];
    const supported = range && request.apiVersion >= range[0] && request.apiVersion <= range[1];
    if (request.apiKey === API.ApiVersions) {
      // An unsupported ApiVersions version is answered in v0 format so the client can fall back.
      return apiVersions(supported ? request.apiVersion : 0, supported ? ERR.NONE : ERR.UNSUPPORTED_VERSION);
    }
    if (!supported) return undefined;
    switch (request.apiKey) {
      case API.Metadata:
        return metadata(request);
      case API.CreateTopics:
        return createTopics(request.body);
      case API.DeleteTopics:
        return deleteTopics(request.body);
      case API.DescribeConfigs:
        return describeConfigs(request.body);
    }
    return undefined;
  };

  const apiVersions = (version: number, errorCode: number): Encoder => {
    const entries = Object.entries(SUPPORTED).map(([key, [min, max]]) =>
      new Encoder().writeInt16(Number(key)).writeInt16(min).writeInt16(max),
    );
    const body = new Encoder().writeInt16(errorCode).writeArray(entries);
    if (version >= 1) body.writeInt32(0); // throttle_time_ms
    return body;
  };

  const metadata = ({ apiVersion, body }: KafkaRequest): Encoder => {
    // v0: an empty list means all topics; v1: null (-1) means all, empty means none.
    const count = body.readInt32();
    const requested: string[] = [];
    for (let i = 0; i < count; i++) requested.push(body.readString() ?? '');
    const all = count === -1 || (apiVersion === 0 && count === 0);
    const names = all ? [...topics.keys()].sort() : requested;

    const broker = new Encoder().writeInt32(nodeId).writeString(options.advertisedHost ?? options.host).writeInt32(port);
    if (apiVersion >= 1) broker.writeString(null); // rack
    const out = new Encoder().writeArray([broker]);
    if (apiVersion >= 1) out.writeInt32(nodeId); // controller_id
    const entries = names.map((name) => {
      const topic = topics.get(name);
      const entry = new Encoder().writeInt16(topic ? ERR.NONE : ERR.UNKNOWN_TOPIC_OR_PARTITION).writeString(name);
      if (apiVersion >= 1) entry.writeBoolean(false); // is_internal
      const partitions = Array.from({ length: topic?.partitions ?? 0 }, (_, id) =>
        new Encoder()
          .writeInt16(ERR.NONE)
          .writeInt32(id)
          .writeInt32(nodeId) // leader
          .writeArray([nodeId], 'int32') // replicas
          .writeArray([nodeId], 'int32'), // isr
      );
      return entry.writeArray(partitions);
    });
    return out.writeArray(entries);
  };

  const createTopics = (body: Decoder): Encoder => {
    const requests = body.readArray((d) => {
      const name = d.readString() ?? '';
      const partitions = d.readInt32();
      const replicationFactor = d.readInt16();
      const assignment = d.readArray((a) => ({ partition: a.readInt32(), replicas: a.readArray((r) => r.readInt32()) }));
      const configs = d.readArray((c) => [c.readString() ?? '', c.readString()] as const);
      return { name, partitions, replicationFactor, assignment, configs };
    });
    body.readInt32(); // timeout
    const seen = new Set<string>();
    const results = requests.map((request) => {
      const duplicate = seen.has(request.name);
      seen.add(request.name);
      const partitions = request.assignment.length > 0 ? request.assignment.length : request.partitions === -1 ? 1 : request.partitions;
      const replicationFactor =
        request.assignment.length > 0 ? request.assignment[0]!.replicas.length : request.replicationFactor === -1 ? 1 : request.replicationFactor;
      let code: number = ERR.NONE;
      if (duplicate) code = ERR.INVALID_REQUEST;
      else if (!TOPIC_NAME.test(request.name) || request.name === '.' || request.name === '..') code = ERR.INVALID_TOPIC_EXCEPTION;
      else if (topics.has(request.name)) code = ERR.TOPIC_ALREADY_EXISTS;
      else if (partitions < 1) code = ERR.INVALID_PARTITIONS;
      // One broker holds at most one replica of each partition.
      else if (replicationFactor < 1 || replicationFactor > 1) code = ERR.INVALID_REPLICATION_FACTOR;
      if (code === ERR.NONE) {
        topics.set(request.name, { name: request.name, partitions, replicationFactor, configs: Object.fromEntries(request.configs) });
        log(`kafka: created topic ${request.name} (${partitions} partitions)`);
      }
      return new Encoder().writeString(request.name).writeInt16(code);
    });
    return new Encoder().writeArray(results);
  };

  const deleteTopics = (body: Decoder): Encoder => {
    const names = body.readArray((d) => d.readString() ?? '');
    body.readInt32(); // timeout
    const results = names.map((name) => {
      const existed = topics.delete(name);
      if (existed) log(`kafka: deleted topic ${name}`);
      return new Encoder().writeString(name).writeInt16(existed ? ERR.NONE : ERR.UNKNOWN_TOPIC_OR_PARTITION);
    });
    return new Encoder().writeArray(results);
  };

  const describeConfigs = (body: Decoder): Encoder => {
    const resources = body.readArray((d) => {
      const type = d.readInt8();
      const name = d.readString() ?? '';
      const count = d.readInt32();
      const wanted: string[] = [];
      for (let i = 0; i < count; i++) wanted.push(d.readString() ?? '');
      return { type, name, wanted: count === -1 ? undefined : wanted };
    });
    const results = resources.map(({ type, name, wanted }) => {
      let error: [number, string | null] = [ERR.NONE, null];
      let entries: Array<[string, string | null, boolean]> = []; // name, value, isDefault
      const topic = topics.get(name);
      if (type === RESOURCE_TOPIC && topic) {
        const merged: Record<string, string | null> = { ...TOPIC_DEFAULTS, ...topic.configs };
        entries = Object.entries(merged).map(([key, value]) => [key, value, !(key in topic.configs)]);
      } else if (type === RESOURCE_TOPIC) {
        error = [ERR.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`];
      } else if (type === RESOURCE_BROKER) {
        entries = [
          ['num.partitions', '1', true],
          ['default.replication.factor', '1', true],
          ['auto.create.topics.enable', 'false', false],
        ];
      } else {
        error = [ERR.INVALID_REQUEST, `Unsupported resource type ${type}.`];
      }
      if (wanted) entries = entries.filter(([key]) => wanted.includes(key));
      const configEntries = entries.map(([key, value, isDefault]) =>
        new Encoder().writeString(key).writeString(value).writeBoolean(false).writeBoolean(isDefault).writeBoolean(false),
      );
      return new Encoder().writeInt16(error[0]).writeString(error[1]).writeInt8(type).writeString(name).writeArray(configEntries);
    });
    return new Encoder().writeInt32(0).writeArray(results);
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const request of reader.push(chunk)) {
          const body = handle(request);
          if (!body) {
            // Kafka closes the connection on a request it cannot parse or does not support.
            log(`kafka: unsupported api ${request.apiKey} v${request.apiVersion} from ${request.clientId ?? '?'}; closing`);
            socket.destroy();
            return;
          }
          socket.write(responseFrame(request.correlationId, body));
        }
      } catch (err) {
        log(`kafka: malformed request (${(err as Error).message}); closing the connection`);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  log(`kafka: broker ${nodeId} listening on ${options.host}:${port}`);

  let stopped: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    topics: () =>
      [...topics.values()]
        .map(({ name, partitions, replicationFactor }) => ({ name, partitions, replicationFactor }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
