/** Platforms and waits shared by the self-healing tests. */
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertTopology } from '../../functions/platform/validate.js';
import { compactDocument, EXAMPLE_TOPOLOGY } from './topology.js';
import { hang } from './hang-guard.js';
import { tempDir } from './temp-dir.js';

/** The compact example (no Kafka) with fast probes, a fast watchdog, short back-off, and a service that crashes on every start. */
export function selfHealingPlatform(restart = { initialBackoffInMs: 400, maxBackoffInMs: 2_000, resetAfterInMs: 600_000, maxFailures: 3 }) {
  const codeRoot = tempDir('lcm-code-');
  cpSync(join(dirname(EXAMPLE_TOPOLOGY), 'services'), codeRoot, { recursive: true });
  cpSync(new URL('../fixtures/services/crasher', import.meta.url).pathname, join(codeRoot, 'crasher'), { recursive: true });
  const doc = compactDocument();
  const monitoring = doc.services.find((s: any) => s.role === 'monitoring');
  monitoring.env = { PROBE_INTERVAL_MS: 300, FAILURES_BEFORE_RESTART: 2 };
  doc.services.push({ name: 'crasher', kind: 'microservice', vm: 'vm-apps', port: 8095, source: 'crasher', env: { CRASH_AFTER_MS: 800 } });
  doc.settings = {
    restart,
    watchdog: { intervalInMs: 1_000, failuresBeforeRestart: 2 },
  };
  return { topology: assertTopology(doc), codeRoot };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutInMs = hang(60_000)): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
