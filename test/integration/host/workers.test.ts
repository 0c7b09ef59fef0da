/**
 * The local host scaled out: 3 worker processes over one task hub file. Work spreads across the
 * processes, each activity runs once when no worker dies, a worker killed with SIGKILL mid-activity
 * has its work re-run by another after the lease expires, and no replay commits twice (no
 * TaskScheduled id twice in any history). Plus the lease itself, claimed from two connections.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../../local/host/index.js';
import { HistoryStore } from '../../../local/host/store.js';
import { EventType } from '../../../local/host/history.js';
import { tempDir, waitUntil } from './helpers.js';
import { hang } from '../../helpers/hang-guard.js';

const ENTRY = new URL('../../fixtures/workers-app/index.ts', import.meta.url).pathname;
const LEASE_MS = 1_500;

interface Line {
  kind: 'start' | 'done';
  item: string;
  pid: number;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [kind, item, pid] = l.split(' ');
      return { kind: kind as Line['kind'], item: item!, pid: Number(pid) };
    });
}

/** The sum `spread` returns: each item n*2, plus 2 for each group's last item. */
function expectedSum(groups: number, perGroup: number): number {
  let sum = 0;
  for (let g = 0; g < groups; g++) for (let i = 0; i < perGroup; i++) sum += (g * 100 + i) * 2;
  return sum + groups * 2;
}

/** TaskScheduled / SubOrchestrationInstanceCreated ids that occur more than once in one execution's history. */
function duplicateScheduledIds(storeFile: string): string[] {
  const db = new Database(storeFile, { readonly: true });
  try {
    const seen = new Set<string>();
    const dups: string[] = [];
    for (const r of db.prepare('SELECT instance_id, execution_id, event FROM history ORDER BY instance_id, seq').all() as { instance_id: string; execution_id: string; event: string }[]) {
      const e = JSON.parse(r.event) as { EventType: number; EventId: number };
      if (e.EventType !== EventType.TaskScheduled && e.EventType !== EventType.SubOrchestrationInstanceCreated) continue;
      const key = `${r.instance_id}/${r.execution_id}/${e.EventType}/${e.EventId}`;
      if (seen.has(key)) dups.push(key);
      seen.add(key);
    }
    return dups;
  } finally {
    db.close();
  }
}

describe('local host: leases over one store file', () => {
  it('an instance ready for a replay is claimed by one connection until its lease expires', () => {
    const tmp = tempDir('lcm-lease-');
    const a = new HistoryStore(path.join(tmp.dir, 'hub.db'), { shared: true });
    const b = new HistoryStore(path.join(tmp.dir, 'hub.db'), { shared: true });
    try {
      const now = Date.now();
      a.putInstance({ instanceId: 'i1', executionId: 'e1', name: 'spread', status: 'Pending', input: 'null', output: null, customStatus: null, createdTime: new Date(now).toISOString(), lastUpdatedTime: new Date(now).toISOString(), parentInstanceId: null, parentExecutionId: null, parentTaskId: null });
      a.addWork('i1', 'e1', 0, 'work', '{}', now);
      expect(a.claimInstances('A', now, now + 1_000, 8)).toEqual(['i1']);
      expect(b.claimInstances('B', now, now + 1_000, 8)).toEqual([]);
      expect(b.claimWork('B', now, now + 1_000, 8).map((w) => w.taskId)).toEqual([0]);
      expect(a.claimWork('A', now, now + 1_000, 8)).toEqual([]);
      // Past the lease, the other connection takes both over, and the first may no longer commit.
      expect(b.claimInstances('B', now + 1_001, now + 2_000, 8)).toEqual(['i1']);
      expect(a.leaseOwner('i1')).toBe('B');
      expect(a.claimWork('A', now + 1_001, now + 2_000, 8).map((w) => w.taskId)).toEqual([0]);
      expect(b.renewWork('B', 1, now + 3_000)).toBe(false);
    } finally {
      a.close();
      b.close();
      tmp.cleanup();
    }
  });

  it('refuses workers over a store only one process can see, and a worker count that is not one', async () => {
    await expect(startLocalHost({ entry: ENTRY, storeFile: ':memory:', port: 0, workers: 3, log: () => {} })).rejects.toThrow(/3 workers share the task hub through its file; storeFile ":memory:"/);
    await expect(startLocalHost({ entry: ENTRY, storeFile: ':memory:', port: 0, workers: 0, log: () => {} })).rejects.toThrow(/workers must be a whole number of at least 1 \(got 0\)/);
  });
});

describe('local host: 3 worker processes over one task hub', () => {
  const tmp = tempDir('lcm-workers-');
  const storeFile = path.join(tmp.dir, 'hub.db');
  const logs: string[] = [];
  let host: LocalHost;

  beforeAll(async () => {
    // Two activities per worker: a fan-out of 12 cannot fit on one process.
    host = await startLocalHost({ entry: ENTRY, storeFile, port: 0, workers: 3, maxConcurrentActivities: 2, leaseMs: LEASE_MS, log: (l) => logs.push(l) });
  }, hang(120_000));
  afterAll(async () => {
    await host?.stop();
    tmp.cleanup();
  });

  it('spreads the replays and activities of a fan-out over the processes, each activity once', async () => {
    expect(host.workerPids).toHaveLength(3);
    expect(new Set(host.workerPids).size).toBe(3);
    const file = path.join(tmp.dir, 'spread.txt');
    const id = host.startNew('spread', { input: { file, groups: 3, perGroup: 4, sleepMs: 150 } });
    const done = await host.waitForInstance(id, { timeoutInMs: hang(60_000) });
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toBe(expectedSum(3, 4));

    const lines = readLines(file);
    const finished = lines.filter((l) => l.kind === 'done');
    // 3 groups x (4 items + 1 last), each run exactly once.
    expect(finished).toHaveLength(15);
    expect(new Set(finished.map((l) => l.item)).size).toBe(15);
    expect(lines.filter((l) => l.kind === 'start')).toHaveLength(15);
    const pids = new Set(finished.map((l) => l.pid));
    expect(pids.size).toBeGreaterThan(1);
    for (const pid of pids) expect(host.workerPids).toContain(pid);
    expect(duplicateScheduledIds(storeFile)).toEqual([]);
  }, hang(90_000));

  it('a worker killed mid-activity: another runs its work after the lease and the orchestration completes', async () => {
    const file = path.join(tmp.dir, 'kill.txt');
    const id = host.startNew('spread', { input: { file, groups: 2, perGroup: 3, sleepMs: 1_500 } });
    await waitUntil(() => readLines(file).some((l) => l.kind === 'start'), 30_000);
    const victim = readLines(file).find((l) => l.kind === 'start')!.pid;
    expect(host.workerPids).toContain(victim);
    process.kill(victim, 'SIGKILL');
    const lostAtKill = readLines(file).filter((l) => l.kind === 'start' && l.pid === victim).map((l) => l.item);

    const done = await host.waitForInstance(id, { timeoutInMs: hang(60_000) });
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toBe(expectedSum(2, 3));
    const lines = readLines(file);
    // What the killed worker had started finished on another process, after its lease expired.
    for (const item of lostAtKill) {
      expect(lines.some((l) => l.kind === 'done' && l.item === item && l.pid === victim)).toBe(false);
      expect(lines.some((l) => l.kind === 'done' && l.item === item && l.pid !== victim)).toBe(true);
    }
    expect(new Set(lines.filter((l) => l.kind === 'done').map((l) => l.item)).size).toBe(8);
    expect(logs.some((l) => l.includes(`(pid ${victim}) exited (SIGKILL)`))).toBe(true);
    expect(duplicateScheduledIds(storeFile)).toEqual([]);
  }, hang(90_000));
});
