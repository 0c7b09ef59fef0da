/**
 * Kafka adapter: wait for the platform's broker, then make sure the topology's topics exist.
 * Idempotent: topics already there are reported as existing, never recreated.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type LogEntry, type logCreator } from 'kafkajs';

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface EnsureTopicsOptions {
  /** host:port of the broker(s), e.g. the Kafka VM's address and kafka.port. */
  brokers: string[];
  topics: TopicSpec[];
  /** How long to keep trying to reach a broker that is not up yet. */
  waitForBrokerInMs: number;
  /** What sets `waitForBrokerInMs`, named in the error when the broker does not answer in time. */
  waitSetting?: string;
  clientId?: string;
  /** Where kafkajs's and our lines go (default: nowhere). */
  log?: (line: string) => void;
  /** kafkajs's level once connected (default 'warn'); while waiting, its connect errors are not logged. */
  logLevel?: KafkaLogLevel;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/** The broker did not answer before the deadline. */
export class KafkaUnavailableError extends Error {
  readonly code = 'kafka-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaUnavailableError';
  }
}

/** The broker refused a topic (bad partitions, replication factor, name). */
export class KafkaTopicError extends Error {
  readonly code = 'kafka-topic-refused';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaTopicError';
  }
}

const LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** Routes kafkajs's structured log entries to one line each (its default prints JSON to the console). */
export function kafkaLogCreator(log: (line: string) => void): logCreator {
  return () =>
    ({ namespace, label, log: entry }: LogEntry) => {
      const { message, error } = entry as { message: string; error?: unknown };
      log(`kafkajs ${label} ${namespace}: ${message}${error ? ` (${String(error)})` : ''}`);
    };
}

export async function ensureTopics(options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const log = options.log ?? (() => {});
  const clientId = options.clientId ?? 'lcm';
  const where = options.brokers.join(', ');
  if (options.brokers.length === 0) throw new KafkaUnavailableError('ensureTopics: no Kafka broker address was given.');

  await waitForBroker(options, log);

  const kafka = new Kafka({
    clientId,
    brokers: options.brokers,
    logLevel: LEVELS[options.logLevel ?? 'warn'],
    logCreator: kafkaLogCreator(log),
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const before = new Set(await admin.listTopics());
    const existing = options.topics.filter((t) => before.has(t.name)).map((t) => t.name);
    const missing = options.topics.filter((t) => !before.has(t.name));
    const created: string[] = [];
    if (missing.length > 0) {
      const allNew = await createTopics(admin, missing, where);
      if (allNew) created.push(...missing.map((t) => t.name));
      else {
        // Someone created some of them meanwhile: sort them out one by one.
        for (const topic of missing) {
          ((await createTopics(admin, [topic], where)) ? created : existing).push(topic.name);
        }
      }
    }

    // Listed again only when something was created (a re-boot's topics are all there already).
    const after = missing.length === 0 ? before : new Set(await admin.listTopics());
    const absent = options.topics.filter((t) => !after.has(t.name)).map((t) => t.name);
    if (absent.length > 0) {
      throw new KafkaTopicError(
        `Kafka broker ${where} does not list topic(s) ${absent.join(', ')} after creating them. ` +
          'Check the broker logs (docker logs kafka on its VM) and its disk space.',
      );
    }
    await warnOnPartitionDrift(admin, options.topics.filter((t) => existing.includes(t.name)), log);
    log(`kafka: topics on ${where}: created [${created.join(', ')}], existing [${existing.join(', ')}]`);
    return { created, existing };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** `1500 ms`, `300 s`: what an operator reads in an error. */
function duration(ms: number): string {
  return ms >= 10_000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Retries connecting (with backoff) until a broker answers or the deadline passes. */
async function waitForBroker(options: EnsureTopicsOptions, log: (line: string) => void): Promise<void> {
  const where = options.brokers.join(', ');
  const deadline = Date.now() + options.waitForBrokerInMs;
  let delay = 100;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const timeout = Math.max(100, Math.min(remaining, 3_000));
    // One try per client: kafkajs's own retries would run past our deadline. Its connect errors
    // are expected while the broker starts, so they are not logged.
    const probe = new Kafka({
      clientId: options.clientId ?? 'lcm',
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: timeout,
      requestTimeout: timeout,
      retry: { retries: 0 },
    }).admin({ retry: { retries: 0 } });
    try {
      await probe.connect();
      if (attempt > 1) log(`kafka: broker ${where} answered after ${attempt} attempts`);
      return;
    } catch (err) {
      lastError = err;
      if (attempt === 1) log(`kafka: waiting up to ${options.waitForBrokerInMs} ms for broker ${where}`);
    } finally {
      await probe.disconnect().catch(() => {});
    }
    const pause = Math.min(delay, deadline - Date.now());
    if (pause > 0) await sleep(pause);
    delay = Math.min(delay * 2, 1_000);
  }
  const cause = lastError instanceof Error ? lastError.message : 'no attempt could be made';
  throw new KafkaUnavailableError(
    `Kafka broker ${where} did not answer within ${duration(options.waitForBrokerInMs)} (last error: ${cause}). ` +
      (options.waitSetting ? `To wait longer for a slow start, raise ${options.waitSetting}. ` : '') +
      `Check that the Kafka container runs on its VM (docker ps), that it listens on ${where} and advertises ` +
      'that address, and that the VM allows inbound traffic to that port.',
    { cause: lastError },
  );
}

/** Creates topics; false when Kafka answered that (all of) them already exist. */
async function createTopics(admin: Admin, topics: TopicSpec[], where: string): Promise<boolean> {
  try {
    return await admin.createTopics({
      topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: t.replicationFactor })),
      waitForLeaders: true,
    });
  } catch (err) {
    const errors = (err as { errors?: Array<{ topic?: string; type?: string; message?: string }> }).errors;
    const detail = errors?.length
      ? errors.map((e) => `${e.topic ?? '?'}: ${e.type ?? e.message}`).join('; ')
      : (err as Error).message;
    throw new KafkaTopicError(
      `Kafka broker ${where} refused to create topic(s) (${detail}). Fix kafka.topics in topology.yaml: ` +
        'partitions must be at least 1 and replicationFactor at most the number of brokers.',
      { cause: err },
    );
  }
}

/** Kafka cannot shrink a topic: say so when an existing topic differs from the topology. */
async function warnOnPartitionDrift(admin: Admin, topics: TopicSpec[], log: (line: string) => void): Promise<void> {
  if (topics.length === 0) return;
  const { topics: described } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) });
  for (const topic of topics) {
    const actual = described.find((d) => d.name === topic.name)?.partitions.length;
    if (actual !== undefined && actual !== topic.partitions) {
      log(`kafka: topic ${topic.name} has ${actual} partitions, the topology asks for ${topic.partitions}; left as it is`);
    }
  }
}
