/**
 * The line `deploy --local` prints after the registry to show that data flows through the platform:
 * an app that serves /api/summary with `readingsLast10s` (the example's dashboard) is asked how many
 * readings went through Kafka in the last seconds. Consumers take a few seconds to join their group
 * after a boot, so it asks again for a while before reporting none.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface FlowEntry {
  service: string;
  kind?: string;
  host?: string;
  port?: number;
  status?: string;
}

interface Summary {
  readingsLast10s?: number;
  latest?: Record<string, unknown>;
  anomalies?: unknown[];
}

async function summaryOf(entry: FlowEntry): Promise<Summary | undefined> {
  try {
    const res = await fetch(`http://${entry.host}:${entry.port}/api/summary`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as Summary;
    return typeof body.readingsLast10s === 'number' ? body : undefined;
  } catch {
    return undefined;
  }
}

/** The count of sensors must hold this long before it is reported (the first readings may be of one sensor). */
const STEADY_MS = 2_000;

/**
 * One line, or undefined when no app reports a data flow. Reported once readings flow and the number
 * of sensors seen has held for STEADY_MS (consumers see the sensors one by one as their group forms),
 * or at the deadline with what is there.
 */
export async function dataFlowLine(registry: FlowEntry[], opts: { waitInMs?: number; signal?: AbortSignal } = {}): Promise<string | undefined> {
  const apps = registry.filter((e) => e.kind === 'app' && e.status === 'running' && e.host && e.port);
  const deadline = Date.now() + (opts.waitInMs ?? 30_000);
  const seen = new Map<string, { sensors: number; since: number }>();
  const line = (app: FlowEntry, s: Summary) =>
    `data flow: ${s.readingsLast10s} sensor readings went through Kafka in the last 10 s ` +
    `(${Object.keys(s.latest ?? {}).length} sensors, ${s.anomalies?.length ?? 0} anomalies found); live at http://${app.host}:${app.port}/`;
  for (;;) {
    for (const app of apps) {
      const s = await summaryOf(app);
      if (!s) continue;
      const now = Date.now();
      if (now >= deadline) return line(app, s);
      if (!(s.readingsLast10s! > 0)) continue;
      const sensors = Object.keys(s.latest ?? {}).length;
      const before = seen.get(app.service);
      if (before?.sensors === sensors && now - before.since >= STEADY_MS) return line(app, s);
      if (before?.sensors !== sensors) seen.set(app.service, { sensors, since: now });
    }
    if (Date.now() >= deadline || opts.signal?.aborted || apps.length === 0) return undefined;
    await sleep(1_000);
  }
}
