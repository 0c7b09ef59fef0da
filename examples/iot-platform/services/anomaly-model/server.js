// Anomaly model: a hosted AI model scoring each sensor's readings, consumed from Kafka (topic
// sensor-readings, consumer group anomaly-model), by their z-score against that sensor's running
// mean. GET /score?value=X scores one value by hand. Kafka is found through the LCM registry.
import { createServer } from 'node:http';
import kafkajs from 'kafkajs'; // CommonJS: its default export holds the API
import { kafkaBrokers } from './registry.js';

const { Kafka, logLevel } = kafkajs;

const threshold = Number(process.env.THRESHOLD || 3);
const stats = new Map(); // sensor -> { n, mean, m2 }  (Welford's running mean and variance)
const anomalies = []; // the latest 20
let scored = 0;
let kafkaState = 'connecting';
const log = (line) => console.log(`${new Date().toISOString()} ${line}`);

function score(sensor, x) {
  const s = stats.get(sensor) || { n: 0, mean: 0, m2: 0 };
  stats.set(sensor, s);
  const sd = s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0;
  const z = sd > 0 ? Math.abs(x - s.mean) / sd : 0;
  s.n += 1;
  const delta = x - s.mean;
  s.mean += delta / s.n;
  s.m2 += delta * (x - s.mean);
  scored += 1;
  return { sensor, value: x, z: +z.toFixed(2), anomaly: s.n > 10 && z > threshold };
}

async function consume() {
  const brokers = await kafkaBrokers(log);
  const consumer = new Kafka({ clientId: 'anomaly-model', brokers, logLevel: logLevel.WARN }).consumer({ groupId: 'anomaly-model' });
  // Leave the group on docker stop: the next instance gets the partitions at once, from the committed offsets.
  process.once('SIGTERM', () => consumer.disconnect().finally(() => process.exit(0)));
  await consumer.connect();
  await consumer.subscribe({ topic: 'sensor-readings', fromBeginning: true });
  kafkaState = 'consuming';
  log(`scoring sensor-readings from ${brokers.join(',')}`);
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = JSON.parse(message.value.toString());
      const result = score(r.sensor, Number(r.value));
      if (result.anomaly) {
        anomalies.push({ ...result, at: r.at });
        if (anomalies.length > 20) anomalies.shift();
      }
    },
  });
}

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', kafka: kafkaState, scored }));
  if (url.pathname === '/score') return res.end(JSON.stringify(score(url.searchParams.get('sensor') || 'manual', Number(url.searchParams.get('value')))));
  if (url.pathname === '/anomalies') return res.end(JSON.stringify({ scored, anomalies }));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8090), process.env.HOST || '0.0.0.0', () => {
  consume().catch((e) => {
    log(`stopping: ${e.message}`);
    process.exit(1); // Docker's restart policy starts it again
  });
});
