// Monitoring: reads the registry from the LCM API, probes every service's /health on an interval,
// and asks the LCM to restart a service that fails several probes in a row. The LCM address and key
// come from the environment the boot gives the container (never baked into the image).
import { createServer } from 'node:http';

const api = (process.env.LCM_API_URL || '').replace(/\/$/, '');
const key = process.env.LCM_API_KEY || '';
const intervalMs = Number(process.env.PROBE_INTERVAL_MS || 10_000);
const timeoutMs = Number(process.env.PROBE_TIMEOUT_MS || 2_000);
const threshold = Number(process.env.FAILURES_BEFORE_RESTART || 3);
const self = process.env.SERVICE_NAME || 'monitoring';
const ROUTE = { microservice: 'services', app: 'apps', model: 'models' };

/** Per service: failed probes in a row, and until when restart requests are held back (after a 409). */
const watch = new Map();
const actions = [];

function log(line) {
  const entry = `${new Date().toISOString()} ${line}`;
  actions.push(entry);
  if (actions.length > 100) actions.shift();
  console.log(entry);
}

async function call(path, init = {}) {
  return fetch(`${api}/api/${path}`, {
    ...init,
    headers: { 'x-functions-key': key, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
}

async function probeOne(host, port) {
  try {
    const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Every registered instance of the service (its replicas; the registry lists them in `instances`),
 * or its one endpoint. Healthy only when each answers: a failing replica is a failing service.
 */
async function probe(entry) {
  const targets = Array.isArray(entry.instances) && entry.instances.length > 0 ? entry.instances : [entry];
  const results = await Promise.all(targets.map((t) => probeOne(t.host, t.port)));
  return results.every(Boolean);
}

async function requestRestart(entry, state) {
  const route = ROUTE[entry.kind];
  if (!route) return;
  const res = await call(`${route}/${entry.service}/restart`, {
    method: 'POST',
    body: JSON.stringify({ requestedBy: 'monitoring', reason: `failed ${state.failures} health probes in a row` }),
  });
  if (res.status === 202) {
    log(`restart of ${entry.service} requested (${state.failures} failed probes)`);
    state.failures = 0;
    state.backoffMs = 0;
  } else if (res.status === 409) {
    // A restart or the boot is already on it: wait longer before asking again.
    state.backoffMs = Math.min(Math.max(state.backoffMs * 2, intervalMs), 300_000);
    state.holdUntil = Date.now() + state.backoffMs;
    log(`restart of ${entry.service} refused (409: already in progress); asking again in ${state.backoffMs} ms`);
  } else {
    log(`restart of ${entry.service} failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  }
}

async function round() {
  if (!api) return;
  let registry;
  try {
    const res = await call('registry');
    if (!res.ok) return log(`registry read failed: HTTP ${res.status}`);
    registry = await res.json();
  } catch (e) {
    return log(`LCM API unreachable: ${e.message}`);
  }
  await Promise.all(
    registry
      .filter((e) => e.service !== self && ROUTE[e.kind] && e.status !== 'failed')
      .map(async (entry) => {
        const state = watch.get(entry.service) || { failures: 0, backoffMs: 0, holdUntil: 0 };
        watch.set(entry.service, state);
        if (await probe(entry)) {
          state.failures = 0;
          return;
        }
        state.failures += 1;
        if (state.failures >= threshold && Date.now() >= state.holdUntil) await requestRestart(entry, state);
      }),
  );
}

async function loop() {
  await round().catch((e) => log(`probe round failed: ${e.message}`));
  setTimeout(loop, intervalMs);
}

createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/health') return res.end(JSON.stringify({ status: 'ok', service: self, watching: watch.size }));
  if (req.url === '/status') return res.end(JSON.stringify({ services: Object.fromEntries(watch), actions }));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT || 8100), process.env.HOST || '0.0.0.0', () => {
  log(api ? `watching the registry of ${api} every ${intervalMs} ms` : 'LCM_API_URL is not set: serving /health only');
  setTimeout(loop, intervalMs);
});
