// Finds other services, and Kafka, through the LCM's central registry (GET /api/registry/{service}),
// with the API address and key the LCM gives this container: no address is ever hard-coded.
const api = (process.env.LCM_API_URL || '').replace(/\/$/, '');
const key = process.env.LCM_API_KEY || '';

/** The registered endpoint of `service` ({ host, port, status, ... }); throws when it is not there. */
export async function lookup(service) {
  if (!api) throw new Error(`LCM_API_URL is not set: cannot look up "${service}" in the registry`);
  const res = await fetch(`${api}/api/registry/${service}`, { headers: { 'x-functions-key': key }, signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`registry lookup of "${service}": HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/** Waits until `service` is registered as running (the LCM registers it once it is healthy). */
export async function waitFor(service, log = console.log) {
  for (let attempt = 1; ; attempt++) {
    try {
      const entry = await lookup(service);
      if (entry.status === 'running') return entry;
    } catch (e) {
      if (attempt === 1 || attempt % 15 === 0) log(`waiting for ${service} in the registry: ${e.message}`);
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** Kafka's bootstrap address as the registry has it (the broker's VM and port). */
export async function kafkaBrokers(log) {
  const kafka = await waitFor('kafka', log);
  return [`${kafka.host}:${kafka.port}`];
}
