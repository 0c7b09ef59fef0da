/**
 * Host overhead of the local durable host: a 1,000-activity fan-out and a 200-step sequence of
 * trivial activities, on an in-memory and on a file store. Reported as milliseconds of host
 * overhead per activity: (wall time - time spent inside activities) / activity count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalHost } from '../local/host/index.js';
import type { Report } from './run.js';

const ENTRY = new URL('./host-replay.app.ts', import.meta.url).pathname;

const state = globalThis as unknown as { __lcmBenchHost?: { activityMs: number } };

export default async function hostReplay(report: Report): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lcm-bench-host-'));
  try {
    for (const storeKind of ['memory', 'file'] as const) {
      const host = await startLocalHost({
        entry: ENTRY,
        port: 0,
        storeFile: storeKind === 'memory' ? ':memory:' : path.join(dir, 'hub.db'),
        maxConcurrentActivities: 16,
        log: () => undefined,
      });
      try {
        for (const [orchestration, n] of [
          ['benchFanOut', 1000],
          ['benchSequence', 200],
        ] as const) {
          if (state.__lcmBenchHost) state.__lcmBenchHost.activityMs = 0;
          const t0 = performance.now();
          const id = host.startNew(orchestration, { input: n });
          const s = await host.waitForInstance(id, { timeoutInMs: 600_000 });
          const wall = performance.now() - t0;
          if (s.runtimeStatus !== 'Completed') throw new Error(`${orchestration} ended ${s.runtimeStatus}: ${JSON.stringify(s.output)}`);
          const overhead = (wall - (state.__lcmBenchHost?.activityMs ?? 0)) / n;
          const shape = orchestration === 'benchFanOut' ? `fan-out ${n}` : `sequence ${n}`;
          report(`${shape}, ${storeKind} store: host overhead per activity`, overhead, 'ms');
          report(`${shape}, ${storeKind} store: wall time`, wall, 'ms');
        }
      } finally {
        await host.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
