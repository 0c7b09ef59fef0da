/**
 * TEMPORARY: the entry point of the `apache/kafka:3.7.0` image the local registry serves until the
 * real Apache Kafka image (built from Maven Central's artifacts) lands: the project's home-made
 * broker (../../kafka/broker.ts), in a real container. Like the official image it listens on
 * 9092 and advertises PLAINTEXT://localhost:9092 unless KAFKA_ADVERTISED_LISTENERS says otherwise.
 */
import { startKafkaBroker } from '../../kafka/broker.js';

const advertised = /^PLAINTEXT:\/\/([^:,]+):(\d+)/.exec(process.env.KAFKA_ADVERTISED_LISTENERS ?? '');
const nodeId = Number(process.env.KAFKA_NODE_ID ?? 1);
const broker = await startKafkaBroker({
  host: '0.0.0.0',
  advertisedHost: advertised?.[1] ?? 'localhost',
  port: 9092,
  nodeId: Number.isInteger(nodeId) && nodeId >= 0 ? nodeId : 1,
  log: (line) => console.log(line),
});
console.log(`[KafkaServer id=${nodeId}] started (home-made stand-in broker, advertising ${advertised?.[1] ?? 'localhost'}:9092)`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void broker.stop().then(() => process.exit(0)));
