/**
 * Checks a recorded ARM request log against Azure's throttling budgets (shared/notes/anchors.md).
 * The benchmark runs with latencies divided by `timeScale`, so request times are stretched back by
 * that factor first ("real-equivalent" time); each budget is then a token bucket (burst, refill)
 * replayed over the requests it covers, per group (per VM, per operation or per subscription).
 */
import type { ArmLogEntry } from '../local/azure/arm/index.js';

export interface Budget {
  name: string;
  burst: number;
  refillPerSecond: number;
  /** The requests this budget counts; `undefined` = not counted. The key groups requests (VM name...). */
  group(entry: ArmLogEntry): string | undefined;
}

export interface BudgetResult {
  name: string;
  burst: number;
  groups: number;
  requests: number;
  /** The most tokens any group had spent at once (burst - lowest level). */
  peakUsed: number;
  /** Requests that would have found the bucket empty (429 in Azure). */
  overBudget: number;
}

const perMinute = (n: number): number => n / 60;
const VM_IN_PATH = /\/virtualMachines\/([^/]+)/i;
const COMPUTE_OPERATION = /\/providers\/Microsoft\.Compute\/locations\/[^/]+\/(operations|operationResults)\/([^/]+)/i;
const vmOf = (e: ArmLogEntry): string | undefined => VM_IN_PATH.exec(e.path)?.[1]?.toLowerCase();
const isRead = (e: ArmLogEntry): boolean => e.method === 'GET' || e.method === 'HEAD';
const UPDATE_KINDS = new Set(['vm.update', 'vm.start', 'vm.restart', 'vm.powerOff', 'vm.deallocate']);

/** The budgets of anchors.md that a boot's requests fall under. */
export const AZURE_BUDGETS: Budget[] = [
  { name: 'ARM reads / subscription (250 burst, 25/s)', burst: 250, refillPerSecond: 25, group: (e) => (isRead(e) ? 'sub' : undefined) },
  { name: 'ARM writes / subscription (200 burst, 10/s)', burst: 200, refillPerSecond: 10, group: (e) => (isRead(e) ? undefined : 'sub') },
  { name: 'Compute Get+InstanceView / VM (36 burst, 12/min)', burst: 36, refillPerSecond: perMinute(12), group: (e) => (e.kind === 'vm.read' ? vmOf(e) : undefined) },
  { name: 'Compute Put VM / VM (12 burst, 4/min)', burst: 12, refillPerSecond: perMinute(4), group: (e) => (e.kind === 'vm.create' ? vmOf(e) : undefined) },
  { name: 'Compute Update VM / VM (12 burst, 4/min)', burst: 12, refillPerSecond: perMinute(4), group: (e) => (UPDATE_KINDS.has(e.kind) ? vmOf(e) : undefined) },
  {
    // Polls carry an operation id, not the VM: each Compute operation is one VM's (create or start).
    name: 'Compute async-op status / VM operation (45 burst, 15/min)',
    burst: 45,
    refillPerSecond: perMinute(15),
    group: (e) => (e.kind === 'operation.poll' ? COMPUTE_OPERATION.exec(e.path)?.[2] : undefined),
  },
  { name: 'Compute Get / subscription (24000 burst, 8000/min)', burst: 24_000, refillPerSecond: perMinute(8_000), group: (e) => (e.kind === 'vm.read' ? 'sub' : undefined) },
  { name: 'Compute Put VM / subscription (1500 burst, 500/min)', burst: 1_500, refillPerSecond: perMinute(500), group: (e) => (e.kind === 'vm.create' ? 'sub' : undefined) },
];

/** Replays `entries` (epoch-ms times, run at 1/timeScale of real durations) through each budget. */
export function checkBudgets(entries: ArmLogEntry[], timeScale: number, budgets: Budget[] = AZURE_BUDGETS): BudgetResult[] {
  return budgets.map((b) => {
    const groups = new Map<string, number[]>();
    for (const e of entries) {
      const key = b.group(e);
      if (key === undefined) continue;
      const list = groups.get(key) ?? [];
      list.push(e.time);
      groups.set(key, list);
    }
    let peakUsed = 0;
    let overBudget = 0;
    let requests = 0;
    for (const times of groups.values()) {
      times.sort((x, y) => x - y);
      let tokens = b.burst;
      let last = times[0]!;
      for (const t of times) {
        requests++;
        const elapsedRealSeconds = ((t - last) * timeScale) / 1000;
        tokens = Math.min(b.burst, tokens + elapsedRealSeconds * b.refillPerSecond);
        last = t;
        if (tokens >= 1) tokens -= 1;
        else overBudget++;
        peakUsed = Math.max(peakUsed, b.burst - tokens);
      }
    }
    return { name: b.name, burst: b.burst, groups: groups.size, requests, peakUsed: Math.ceil(peakUsed), overBudget };
  });
}
