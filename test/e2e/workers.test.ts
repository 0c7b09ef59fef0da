/**
 * The real boot on a host scaled out to 3 worker processes (one task hub file): the compact example
 * comes up, every service registered and healthy, the boot's replays and activities ran in more
 * than one process, no history has a task scheduled twice, and the ARM requests of all workers
 * together stay within Azure's throttling budgets (the pacing is shared through ARM's feedback).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertTopology } from '../../functions/platform/validate.js';
import { EventType } from '../../local/host/history.js';
import { checkBudgets } from '../../bench/arm-budget.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { compactDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;
const dir = mkdtempSync(path.join(tmpdir(), 'lcm-workers-e2e-'));
const storeFile = path.join(dir, 'task-hub.sqlite');

beforeAll(async () => {
  p = await startTestPlatform({ topology: assertTopology(compactDocument()), workers: 3, storeFile });
}, hang(180_000));

afterAll(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('boot on 3 worker processes', () => {
  it('boots the compact example: every service registered, running and healthy', async () => {
    expect(p.host.workerPids).toHaveLength(3);
    const status = await p.run('boot');
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    expect(status.output.failures).toEqual([]);
    expect(status.output.status).toBe('succeeded');
    const registry = (await (await p.api('registry')).json()) as any[];
    expect(registry.map((e) => e.service).sort()).toEqual(p.topology.services.map((s) => s.name).sort());
    for (const entry of registry) {
      expect(entry.status).toBe('running');
      const res = await fetch(`http://${entry.host}:${entry.port}/health`);
      expect(res.status, `${entry.service} /health`).toBe(200);
    }
  }, hang(360_000));

  it('ran the work on more than one worker, and no replay committed twice', async () => {
    const stats = await p.host.workerStats();
    expect(stats.map((s) => s.pid).sort()).toEqual([...p.host.workerPids].sort());
    expect(stats.filter((s) => s.activities > 0).length, JSON.stringify(stats)).toBeGreaterThan(1);
    expect(stats.filter((s) => s.replays > 0).length, JSON.stringify(stats)).toBeGreaterThan(1);
    const db = new Database(storeFile, { readonly: true });
    try {
      const seen = new Set<string>();
      const dups: string[] = [];
      for (const r of db.prepare('SELECT instance_id, execution_id, event FROM history').all() as { instance_id: string; execution_id: string; event: string }[]) {
        const e = JSON.parse(r.event) as { EventType: number; EventId: number };
        if (e.EventType !== EventType.TaskScheduled && e.EventType !== EventType.SubOrchestrationInstanceCreated) continue;
        const key = `${r.instance_id}/${r.execution_id}/${e.EventType}/${e.EventId}`;
        if (seen.has(key)) dups.push(key);
        seen.add(key);
      }
      expect(seen.size).toBeGreaterThan(0);
      expect(dups).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('kept every ARM request of the 3 workers within Azure\'s throttling budgets', () => {
    const entries = p.azure.arm.log.entries;
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.filter((e) => e.status === 429)).toEqual([]);
    for (const b of checkBudgets(entries, 1)) expect(b.overBudget, b.name).toBe(0);
  });
});
