/**
 * Durability: a host killed with SIGKILL mid-orchestration and started again on the same store
 * resumes without re-running completed activities; timers survive a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_ENTRY, FUNCTION_KEY, SYSTEM_KEY, startFixtureHost, tempDir, waitUntil } from './helpers.js';

const MAIN = new URL('../../../local/host/main.ts', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

interface Child {
  proc: ChildProcess;
  baseUrl: string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startChild(store: string): Promise<Child> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--entry', FIXTURE_ENTRY, '--store', store, '--port', '0', '--key', FUNCTION_KEY, '--system-key', SYSTEM_KEY],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start in time; stderr:\n${stderr}`)), 30_000);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const m = /^listening (http:\/\/\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, baseUrl: m[1], exited });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code} before listening; stderr:\n${stderr}`));
    });
  });
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe('local host: durability', () => {
  it('resumes after SIGKILL mid-orchestration without re-running completed activities', async () => {
    const tmp = tempDir('lcm-host-crash-');
    try {
      const store = path.join(tmp.dir, 'hub.db');
      const file = path.join(tmp.dir, 'steps.txt');
      const steps = 8;
      const first = await startChild(store);
      const started = await fetch(`${first.baseUrl}/api/orchestrators/crashSeq/crash-1`, {
        method: 'POST',
        headers: { 'x-functions-key': FUNCTION_KEY },
        body: JSON.stringify({ file, steps, sleepMs: 150, timerAfter: 2 }),
      });
      expect(started.status).toBe(202);
      await waitUntil(() => lines(file).length >= 4, 20_000);
      first.proc.kill('SIGKILL');
      await first.exited;
      const atKill = lines(file).length;
      expect(atKill).toBeLessThan(steps);

      const second = await startChild(store);
      const statusUrl = `${second.baseUrl}/runtime/webhooks/durabletask/instances/crash-1?code=${SYSTEM_KEY}`;
      let status: { runtimeStatus: string; output: unknown } = { runtimeStatus: 'Running', output: null };
      const deadline = Date.now() + 30_000;
      while (status.runtimeStatus === 'Running' || status.runtimeStatus === 'Pending') {
        if (Date.now() > deadline) throw new Error('resumed orchestration did not complete');
        await new Promise((r) => setTimeout(r, 100));
        status = (await (await fetch(statusUrl)).json()) as typeof status;
      }
      expect(status).toMatchObject({ runtimeStatus: 'Completed', output: steps });

      const written = lines(file);
      const counts = new Map<string, number>();
      for (const l of written) counts.set(l, (counts.get(l) ?? 0) + 1);
      for (let i = 0; i < steps; i++) expect(counts.get(`step-${i}`), `step-${i}`).toBeGreaterThanOrEqual(1);
      // Completed activities ran once; only the one in flight at the kill may have run twice (at-least-once).
      for (let i = 0; i < atKill - 1; i++) expect(counts.get(`step-${i}`), `step-${i}`).toBe(1);
      expect([...counts.values()].filter((c) => c > 1).length).toBeLessThanOrEqual(1);

      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it('keeps a durable timer across a stop and a start on the same store', async () => {
    const tmp = tempDir('lcm-host-timer-');
    try {
      const storeFile = path.join(tmp.dir, 'hub.db');
      const one = await startFixtureHost({ storeFile });
      const id = one.startNew('timer', { instanceId: 'sleepy', input: 700 });
      await waitUntil(() => one.getTimeline(id)?.some((e) => e.event === 'TimerCreated') === true);
      await one.stop();
      const two = await startFixtureHost({ storeFile });
      try {
        const s = await two.waitForInstance(id);
        expect(s.runtimeStatus).toBe('Completed');
        expect(s.output as number).toBeGreaterThanOrEqual(700);
        expect(two.getTimeline(id)?.filter((e) => e.event === 'TimerFired')).toHaveLength(1);
      } finally {
        await two.stop();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
