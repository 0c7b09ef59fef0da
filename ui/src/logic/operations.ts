/**
 * What the UI shows of operations: the live per-VM and per-service states of a boot (its custom
 * status), the plan's changes in words, which operation ids a platform may have run, and whether
 * an operation is still going. Pure functions of the API's answers.
 */
import { BOOT_ID, bootVmId, initVmId, provisionVmId, RECONCILE_ID, reconcileVmId, restartServiceId, restartVmId, WATCHDOG_ID } from '../../../functions/platform/ids.js';
import type { BootProgress } from '../../../functions/platform/boot-state.js';

export const ACTIVE = new Set(['Running', 'Pending', 'ContinuedAsNew']);
export const isActive = (runtimeStatus: string | undefined): boolean => ACTIVE.has(runtimeStatus ?? '');

export interface StateRow {
  name: string;
  state: string;
}

/** The boot's custom status, or undefined when a custom status has another shape. */
export function bootProgress(customStatus: unknown): BootProgress | undefined {
  const c = customStatus as Partial<BootProgress> | null | undefined;
  if (!c || typeof c !== 'object' || typeof c.phase !== 'string' || !c.vms || !c.services) return undefined;
  return c as BootProgress;
}

/** Names grouped by state -> one row per name, sorted by name. */
export function stateRows(groups: Partial<Record<string, string[]>> | undefined): StateRow[] {
  const rows: StateRow[] = [];
  for (const [state, names] of Object.entries(groups ?? {})) for (const name of names ?? []) rows.push({ name, state });
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** "3 of 10 running" for a group map. */
export function countLine(groups: Partial<Record<string, string[]>> | undefined, done = 'running'): string {
  const rows = stateRows(groups);
  return `${rows.filter((r) => r.state === done).length} of ${rows.length} ${done}`;
}

/** One change of POST /api/desired-state/plan (the contract). */
export interface Change {
  action: 'start' | 'recreate' | 'stop' | 'move' | 'scale' | 'provision' | string;
  kind: 'service' | 'kafka' | 'vm' | string;
  name: string;
  vm?: string;
  reason?: string;
  from?: string;
  to?: string;
  replicas?: { from: number; to: number };
}

/** A change in words: "move service sensor-binder from vm-a to vm-b". */
export function describeChange(c: Change): string {
  const what = `${c.kind === 'kafka' ? 'Kafka' : c.kind} ${c.kind === 'kafka' && c.name === 'kafka' ? '' : c.name}`.replace(/\s+$/, '');
  let text: string;
  switch (c.action) {
    case 'move':
      text = `move ${what} from ${c.from ?? '?'} to ${c.to ?? '?'}`;
      break;
    case 'scale':
      text = `scale ${what} from ${c.replicas?.from ?? '?'} to ${c.replicas?.to ?? '?'} replicas`;
      break;
    default:
      text = `${c.action} ${what}${c.vm ? ` on ${c.vm}` : ''}`;
  }
  return c.reason ? `${text}: ${c.reason}` : text;
}

/** The fixed ids of every target a platform has (one instance per target), plus what runs now. */
export function knownOperationIds(vms: string[], services: string[], running: string[] = []): string[] {
  const ids = new Set<string>([BOOT_ID, WATCHDOG_ID, RECONCILE_ID, ...running]);
  for (const vm of vms) for (const id of [bootVmId, provisionVmId, initVmId, restartVmId, reconcileVmId]) ids.add(id(vm));
  for (const s of services) if (s !== 'kafka') ids.add(restartServiceId(s));
  return [...ids];
}

/** The restart route of a service kind. */
export function restartPath(kind: string, name: string): string | undefined {
  const route = ({ microservice: 'services', app: 'apps', model: 'models' } as Record<string, string>)[kind];
  return route ? `${route}/${encodeURIComponent(name)}/restart` : undefined;
}

/** A custom status of another shape (a reconcile's, a VM boot's) as short facts: `phase waiting`, `done 2`. */
export function statusFacts(customStatus: unknown): Array<[string, string]> {
  if (!customStatus || typeof customStatus !== 'object' || Array.isArray(customStatus)) return [];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(customStatus as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push([k, String(v)]);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.push([k, v.join(', ')]);
  }
  return out.slice(0, 12);
}

/** The failures an output lists as text (a reconcile's), if any. */
export function textFailures(output: unknown): string[] {
  const f = (output as { failures?: unknown } | null)?.failures;
  return Array.isArray(f) && f.every((x) => typeof x === 'string') ? (f as string[]) : [];
}
