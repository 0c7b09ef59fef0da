// Sensor controller: drives the sensors of sensor-manager's catalogue and publishes each reading to
// Kafka (topic sensor-readings); accepts commands for a sensor (on, off, rate). Kafka and the
// catalogue are found through the LCM registry.
import { createServer } from 'node:http';
import kafkajs from 'kafkajs'; // CommonJS: its default export holds the API
import { kafkaBrokers, lookup, waitFor } from './registry.js';

const { Kafka, Partitioners, logLevel } = kafkajs;

const TOPIC = 'sensor-readings';
const COMMANDS = new Set(['on', 'off', 'rate']);
const sensors = new Map(); // id -> { on, everyMs, next, base }
let produced = 0;
let accepted = 0;
let kafkaState = 'connecting';
const log = (line) => console.log(`${new Date().toISOString()} ${line}`);

async function refreshCatalogue() {
  const manager = await lookup('sensor-manager');
  const res = await fetch(`http://${manager.host}:${manager.port}/sensors`, { signal: AbortSignal.timeout(3_000) });
  for (const s of await res.json()) {
    if (!sensors.has(s.id)) sensors.set(s.id, { on: true, everyMs: 1_000, next: 0, base: 20 + sensors.size * 5 });
  }
}

/** A plausible reading: slow drift and noise, now and then a spike for the anomaly model to find. */
function reading(id, s) {
  const spike = Math.random() < 0.02 ? 15 : 0;
  return { sensor: id, value: +(s.base + Math.sin(Date.now() / 60_000) + (Math.random() - 0.5) + spike).toFixed(2), at: new Date().toISOString() };
}

async function main() {
  await waitFor('sensor-manager', log);
  await refreshCatalogue().catch((e) => log(`catalogue: ${e.message}`));
  setInterval(() => refreshCatalogue().catch((e) => log(`catalogue: ${e.message}`)), 30_000).unref();
  const brokers = await kafkaBrokers(log);
  const producer = new Kafka({ clientId: 'sensor-controller', brokers, logLevel: logLevel.WARN }).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  process.once('SIGTERM', () => producer.disconnect().finally(() => process.exit(0)));
  await producer.connect();
  kafkaState = 'connected';
  log(`producing readings of ${sensors.size} sensors to ${TOPIC} on ${brokers.join(',')}`);
  for (;;) {
    const now = Date.now();
    const due = [...sensors].filter(([, s]) => s.on && s.next <= now);
    if (due.length > 0) {
      await producer
        .send({ topic: TOPIC, messages: due.map(([id, s]) => ({ key: id, value: JSON.stringify(reading(id, s)) })) })
        .then(() => (produced += due.length), (e) => log(`produce failed (kafkajs retries): ${e.message}`));
      for (const [, s] of due) s.next = now + s.everyMs;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/health') return res.end(JSON.stringify({ status: 'ok', kafka: kafkaState, produced, accepted }));
  const match = url.pathname.match(/^\/sensors\/([\w-]+)\/(\w+)$/);
  if (match && COMMANDS.has(match[2]) && sensors.has(match[1])) {
    const s = sensors.get(match[1]);
    if (match[2] === 'rate') s.everyMs = Math.max(100, Number(url.searchParams.get('everyMs')) || 1_000);
    else s.on = match[2] === 'on';
    accepted += 1;
    res.statusCode = 202;
    return res.end(JSON.stringify({ sensor: match[1], command: match[2], accepted: true }));
  }
  res.statusCode = 400;
  res.end(JSON.stringify({ error: `unknown sensor or command; use /sensors/ID/(${[...COMMANDS].join('|')})` }));
}).listen(Number(process.env.PORT || 8012), process.env.HOST || '0.0.0.0', () => {
  main().catch((e) => {
    log(`stopping: ${e.message}`);
    process.exit(1); // Docker's restart policy starts it again
  });
});
