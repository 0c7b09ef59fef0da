// Sensor manager: the catalogue of registered sensors, and their latest readings, consumed from
// Kafka (topic sensor-readings, consumer group sensor-manager: a restart resumes from its committed
// offset). Kafka is found through the LCM registry.
import { createServer } from 'node:http';
import kafkajs from 'kafkajs'; // CommonJS: its default export holds the API
import { kafkaBrokers } from './registry.js';

const { Kafka, logLevel } = kafkajs;

const sensors = new Map([
  ['temp-1', { id: 'temp-1', type: 'temperature', unit: 'C' }],
  ['temp-2', { id: 'temp-2', type: 'temperature', unit: 'C' }],
  ['humidity-1', { id: 'humidity-1', type: 'humidity', unit: '%' }],
]);
const latest = new Map(); // sensor -> last reading
const arrivals = []; // when each of the recent readings arrived (ms), for the rate
const firstOffsets = {}; // partition -> the first offset this process consumed (where it resumed)
let consumed = 0;
let kafkaState = 'connecting';
const log = (line) => console.log(`${new Date().toISOString()} ${line}`);

function recentCount(seconds) {
  const since = Date.now() - seconds * 1_000;
  while (arrivals.length && arrivals[0] < Date.now() - 60_000) arrivals.shift();
  return arrivals.filter((t) => t >= since).length;
}

async function consume() {
  const brokers = await kafkaBrokers(log);
  const consumer = new Kafka({ clientId: 'sensor-manager', brokers, logLevel: logLevel.WARN }).consumer({ groupId: 'sensor-manager' });
  // Leave the group on docker stop: the next instance gets the partitions at once, from the committed offsets.
  process.once('SIGTERM', () => consumer.disconnect().finally(() => process.exit(0)));
  await consumer.connect();
  await consumer.subscribe({ topic: 'sensor-readings', fromBeginning: true });
  kafkaState = 'consuming';
  log(`consuming sensor-readings from ${brokers.join(',')}`);
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const r = JSON.parse(message.value.toString());
      firstOffsets[partition] ??= Number(message.offset);
      latest.set(r.sensor, { ...r, partition, offset: Number(message.offset) });
      arrivals.push(Date.now());
      consumed += 1;
    },
  });
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

createServer(async (req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/health') return res.end(JSON.stringify({ status: 'ok', sensors: sensors.size, kafka: kafkaState, consumed }));
  if (req.url === '/sensors' && req.method === 'GET') return res.end(JSON.stringify([...sensors.values()]));
  if (req.url === '/sensors' && req.method === 'POST') {
    const sensor = JSON.parse((await body(req)) || '{}');
    if (!/^[\w-]+$/.test(sensor.id || '')) {
      res.statusCode = 400;
      return res.end(JSON.stringify({ error: 'a sensor needs an id of letters, digits, "_" or "-"' }));
    }
    sensors.set(sensor.id, sensor);
    res.statusCode = 201;
    return res.end(JSON.stringify(sensor));
  }
  if (req.url === '/readings') {
    return res.end(JSON.stringify({ consumed, last10s: recentCount(10), firstOffsets, latest: Object.fromEntries(latest) }));
  }
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8010), process.env.HOST || '0.0.0.0', () => {
  consume().catch((e) => {
    log(`stopping: ${e.message}`);
    process.exit(1); // Docker's restart policy starts it again
  });
});
