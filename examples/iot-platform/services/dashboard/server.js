// Dashboard: a hosted app showing the sensors' live readings (which went sensor-controller -> Kafka
// -> sensor-manager) and the anomaly model's findings. It finds both services through the LCM registry.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { lookup } from './registry.js';

const title = process.env.TITLE || 'Dashboard';
const started = new Date().toISOString();

async function get(service, path) {
  const entry = await lookup(service);
  const res = await fetch(`http://${entry.host}:${entry.port}${path}`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`${service}${path}: HTTP ${res.status}`);
  return res.json();
}

/** What the page shows, also served as JSON at /api/summary. */
async function summary() {
  const [readings, model] = await Promise.all([
    get('sensor-manager', '/readings').catch((e) => ({ error: e.message })),
    get('anomaly-model', '/anomalies').catch((e) => ({ error: e.message })),
  ]);
  return { readingsLast10s: readings.last10s ?? 0, readingsTotal: readings.consumed ?? 0, latest: readings.latest ?? {}, anomalies: model.anomalies ?? [], errors: [readings.error, model.error].filter(Boolean) };
}

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function page(s) {
  const rows = Object.values(s.latest)
    .map((r) => `<tr><td>${escape(r.sensor)}</td><td>${escape(r.value)}</td><td>${escape(r.at)}</td><td>${escape(r.offset)}</td></tr>`)
    .join('');
  const found = s.anomalies.map((a) => `<li>${escape(a.at)} ${escape(a.sensor)} = ${escape(a.value)} (z ${escape(a.z)})</li>`).join('');
  return `<!doctype html><meta http-equiv="refresh" content="2"><title>${escape(title)}</title><h1>${escape(title)}</h1>
<p>${s.readingsLast10s} readings through Kafka in the last 10 s (${s.readingsTotal} since sensor-manager started). Up since ${started}.</p>
<table border="1"><tr><th>sensor</th><th>value</th><th>at</th><th>Kafka offset</th></tr>${rows}</table>
<h2>Anomalies</h2><ul>${found || '<li>none yet</li>'}</ul>${s.errors.map((e) => `<p>unavailable: ${escape(e)}</p>`).join('')}`;
}

createServer(async (req, res) => {
  if (req.url === '/health') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ status: 'ok', started }));
  }
  if (req.url === '/build-info') {
    // Written by the Dockerfile's RUN step.
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    return res.end(readFileSync(new URL('./build-info.txt', import.meta.url)));
  }
  const s = await summary();
  if (req.url === '/api/summary') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify(s));
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(page(s));
}).listen(Number(process.env.PORT || 8080), process.env.HOST || '0.0.0.0');
