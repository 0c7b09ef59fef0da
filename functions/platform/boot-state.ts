/**
 * The boot's bookkeeping, pure and deterministic: which VMs and services are where, which services
 * may start now (their VM is ready and everything they depend on runs), what a failure blocks, and
 * the compact progress shown as the orchestration's custom status.
 *
 * A plan may be one group's share of the platform (platform/boot-groups.ts): a dependency placed in
 * another group is *external*: it is met or failed when that group says so (`externalSettled`),
 * and it is never started, listed or counted here.
 */
import { KAFKA } from './topology.js';
import type { Plan } from './plan.js';

export type VmState = 'pending' | 'provisioning' | 'running' | 'failed';
export type StepState = 'pending' | 'building' | 'starting' | 'running' | 'failed' | 'blocked';

export interface Failure {
  target: string;
  kind: 'vm' | 'service';
  step: string;
  reason: string;
}

/**
 * Custom status: names grouped by state. Azure refuses a custom status over 16 KB (UTF-16), which
 * the full lists pass at a few hundred VMs; then the most numerous state of each group is named in
 * `others` instead of listed ("every name not listed is in this state"), and if that is still too
 * large, lists are cut (`truncated`) and `counts` carries the totals.
 */
export interface BootProgress {
  phase: 'starting' | 'running' | 'finished';
  vms: Partial<Record<VmState, string[]>>;
  services: Partial<Record<StepState, string[]>>;
  failed?: number;
  /** The state of every VM / service not listed (set only when the lists had to be compacted). */
  others?: { vms?: VmState; services?: StepState };
  /** Set when some names were left out altogether: their state is unknown from this status. */
  truncated?: boolean;
  counts?: { vms: Partial<Record<VmState, number>>; services: Partial<Record<StepState, number>> };
}

/** JSON characters a progress may take: 16 KB of UTF-16 is 8,192 characters; keep a margin. */
export const PROGRESS_BUDGET_CHARS = 7_000;

/** The state a progress gives a VM or service: listed, else `others` (unless truncated), else undefined (not known). */
export function progressStateOf(progress: BootProgress | null | undefined, group: 'vms' | 'services', name: string): string | undefined {
  if (!progress) return undefined;
  for (const [state, names] of Object.entries(progress[group] ?? {})) if ((names as string[] | undefined)?.includes(name)) return state;
  return progress.truncated ? undefined : progress.others?.[group];
}

export class BootState {
  private readonly vmState = new Map<string, VmState>();
  private readonly stepState = new Map<string, StepState>();
  private readonly reasons = new Map<string, Failure>();
  private readonly blockedBy = new Map<string, string>();
  private readonly vmOf = new Map<string, string>();
  private readonly deps = new Map<string, string[]>();
  private readonly dependents = new Map<string, string[]>();
  /** Per step: dependencies not yet satisfied, plus one while its VM is not running. */
  private readonly unmet = new Map<string, number>();
  /** Steps with nothing unmet that may still be pending/building: what ready() looks at. */
  private readonly candidates = new Set<string>();
  private readonly order = new Map<string, number>();
  /** Steps other than monitoring not yet running, failed or blocked. */
  private unsettled = 0;
  private readonly monitoring?: string;
  /** Dependencies placed elsewhere, and those already settled there. */
  private readonly externals = new Set<string>();
  private readonly externalDone = new Set<string>();
  /** Steps that became running, failed or blocked since the last drainSettled(). */
  private settledSince: string[] = [];
  /** The monitoring step once handed to whoever starts it (the boot's root). */
  private handed?: string;

  constructor(private readonly plan: Plan) {
    for (const vm of plan.vms) this.vmState.set(vm, 'pending');
    if (plan.kafka) {
      this.stepState.set(KAFKA, 'pending');
      this.vmOf.set(KAFKA, plan.kafka.vm);
      this.deps.set(KAFKA, []);
    }
    for (const s of plan.services) {
      this.stepState.set(s.name, 'pending');
      this.vmOf.set(s.name, s.vm);
      this.deps.set(s.name, s.dependsOn);
    }
    this.monitoring = plan.services.find((s) => s.monitoring)?.name;
    // Readiness is kept incrementally (the boot replays this on every completion: each change
    // touches only the steps it concerns, so a replay costs what its history holds, not that times
    // the platform's size).
    for (const [step, deps] of this.deps) {
      this.order.set(step, this.order.size);
      this.unmet.set(step, deps.length + 1);
      if (step !== this.monitoring) this.unsettled += 1;
      for (const d of deps) {
        if (!this.deps.has(d)) this.externals.add(d);
        const list = this.dependents.get(d);
        if (list) list.push(step);
        else this.dependents.set(d, [step]);
      }
    }
  }

  /** Steps (Kafka and services) placed on a VM, in plan order. */
  stepsOn(vm: string): string[] {
    return this.plan.byVm[vm] ?? [];
  }

  vmProvisioning(vm: string): void {
    this.vmState.set(vm, 'provisioning');
    for (const step of this.stepsOn(vm)) if (this.stepState.get(step) === 'pending') this.setStep(step, 'building');
  }

  vmReady(vm: string): void {
    if (this.vmState.get(vm) === 'running') return;
    this.vmState.set(vm, 'running');
    for (const step of this.stepsOn(vm)) this.satisfy(step);
  }

  vmFailed(vm: string, step: string, reason: string): void {
    this.vmState.set(vm, 'failed');
    this.reasons.set(`vm:${vm}`, { target: vm, kind: 'vm', step, reason });
    // Everything placed on the VM fails (not merely blocked) before dependents are blocked.
    const placed = this.stepsOn(vm).filter((s) => this.stepState.get(s) === 'pending' || this.stepState.get(s) === 'building');
    for (const s of placed) {
      this.setStep(s, 'failed');
      this.reasons.set(`step:${s}`, { target: s, kind: 'service', step: 'vm', reason: `VM "${vm}" failed (${step})` });
    }
    for (const s of placed) this.blockDependents(s);
  }

  /** An image could not be prepared: the step fails before it starts. */
  stepFailed(step: string, where: string, reason: string): void {
    this.fail(step, where, reason);
  }

  starting(step: string): void {
    this.setStep(step, 'starting');
  }

  running(step: string): void {
    if (this.stepState.get(step) === 'running') return;
    this.setStep(step, 'running');
    for (const d of this.dependents.get(step) ?? []) this.satisfy(d);
  }

  /**
   * A step found already running as wanted (a healthy re-boot): running now, whether or not its
   * dependencies have settled, and its dependents may start. False when it had already settled
   * (failed or blocked), which stays as it is.
   */
  adopt(step: string): boolean {
    const s = this.stepState.get(step);
    if (s !== 'pending' && s !== 'building') return false;
    this.running(step);
    return true;
  }

  /**
   * A dependency placed in another group ran (ok) or failed/was blocked there: its dependents here
   * may start, or are blocked by it. Repeats and names not depended on here are ignored.
   */
  externalSettled(step: string, ok: boolean): void {
    if (!this.externals.has(step) || this.externalDone.has(step)) return;
    this.externalDone.add(step);
    if (ok) {
      for (const d of this.dependents.get(step) ?? []) this.satisfy(d);
      return;
    }
    // As with a local broker: a failed Kafka does not hold monitoring back.
    if (step === KAFKA && this.monitoring && this.deps.get(this.monitoring)!.includes(KAFKA)) this.satisfy(this.monitoring);
    this.blockDependents(step);
  }

  /** Whether a step still open here waits for an external dependency not settled yet. */
  waitsOnExternal(): boolean {
    for (const e of this.externals) if (this.awaits(e)) return true;
    return false;
  }

  /** The external dependencies not settled yet that a step still open here waits for. */
  awaitedExternals(): string[] {
    return [...this.externals].filter((e) => this.awaits(e));
  }

  private awaits(external: string): boolean {
    if (this.externalDone.has(external)) return false;
    for (const d of this.dependents.get(external) ?? []) if (this.isOpen(d)) return true;
    return false;
  }

  /**
   * The group can go no further: every VM not yet up fails, then every step still open (starting
   * included; the monitoring step once handed over excluded) fails with `reason`, and what depends
   * on them is blocked.
   */
  abandon(reason: string): void {
    for (const vm of this.plan.vms) {
      const s = this.vmState.get(vm);
      if (s !== 'running' && s !== 'failed') this.vmFailed(vm, 'group', reason);
    }
    for (const step of this.openSteps()) this.fail(step, 'group', reason);
  }

  /** Steps here not yet running, failed or blocked (the monitoring step once handed over excluded). */
  openSteps(): string[] {
    return [...this.stepState.keys()].filter((s) => this.isOpen(s));
  }

  /** The monitoring step leaves this state's hands: someone else starts it (it shows as starting). */
  handOff(step: string): void {
    this.setStep(step, 'starting');
    this.handed = step;
  }

  /** Steps that became running, failed or blocked since the last call, in that order. */
  drainSettled(): string[] {
    const out = this.settledSince;
    this.settledSince = [];
    return out;
  }

  state(step: string): StepState | undefined {
    return this.stepState.get(step);
  }

  vm(name: string): VmState | undefined {
    return this.vmState.get(name);
  }

  /** Steps that may start now: their VM runs, their dependencies run; monitoring once all else settled. */
  ready(preparedOnVm: (step: string) => boolean): string[] {
    const out: string[] = [];
    for (const step of this.candidates) {
      const state = this.stepState.get(step);
      if (state !== 'pending' && state !== 'building') {
        this.candidates.delete(step);
        continue;
      }
      if (!preparedOnVm(step)) continue;
      if (step === this.monitoring && this.unsettled > 0) continue;
      out.push(step);
    }
    return out.sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }

  finished(): boolean {
    return [...this.stepState.values()].every((s) => s === 'running' || s === 'failed' || s === 'blocked') &&
      [...this.vmState.values()].every((s) => s === 'running' || s === 'failed');
  }

  failures(): Failure[] {
    return [...this.reasons.values()];
  }

  blockedReason(step: string): string | undefined {
    return this.blockedBy.get(step);
  }

  progress(phase: BootProgress['phase']): BootProgress {
    const vms: BootProgress['vms'] = {};
    for (const [name, s] of this.vmState) (vms[s] ??= []).push(name);
    const services: BootProgress['services'] = {};
    for (const [name, s] of this.stepState) (services[s] ??= []).push(name);
    const failed = this.reasons.size;
    const full: BootProgress = { phase, vms, services, ...(failed ? { failed } : {}) };
    if (JSON.stringify(full).length <= PROGRESS_BUDGET_CHARS) return full;
    return compactProgress(full);
  }

  /** One of the step's conditions (its VM, or one dependency) is now met. */
  private satisfy(step: string): void {
    const left = this.unmet.get(step)! - 1;
    this.unmet.set(step, left);
    if (left === 0) this.candidates.add(step);
  }

  private isOpen(step: string): boolean {
    const s = this.stepState.get(step);
    return step !== this.handed && s !== undefined && s !== 'running' && s !== 'failed' && s !== 'blocked';
  }

  /** Every state change goes through here, so the count of unsettled steps stays exact. */
  private setStep(step: string, next: StepState): void {
    const before = this.stepState.get(step);
    this.stepState.set(step, next);
    const terminal = (s: StepState | undefined) => s === 'running' || s === 'failed' || s === 'blocked';
    if (!terminal(before) && terminal(next)) this.settledSince.push(step);
    // Monitoring does not need Kafka to probe over HTTP: a failed broker does not hold it back.
    if (step === KAFKA && next === 'failed' && before !== 'failed' && this.monitoring && this.deps.get(this.monitoring)!.includes(KAFKA)) this.satisfy(this.monitoring);
    if (step === this.monitoring) return;
    const settled = (s: StepState | undefined) => s === 'running' || s === 'failed' || s === 'blocked';
    if (settled(before) && !settled(next)) this.unsettled += 1;
    if (!settled(before) && settled(next)) this.unsettled -= 1;
  }

  private fail(step: string, where: string, reason: string): void {
    const current = this.stepState.get(step);
    if (current === 'failed' || current === 'blocked' || current === 'running') return;
    this.setStep(step, 'failed');
    this.reasons.set(`step:${step}`, { target: step, kind: 'service', step: where, reason });
    this.blockDependents(step);
  }

  private blockDependents(failed: string): void {
    const frontier = [failed];
    while (frontier.length > 0) {
      const name = frontier.pop()!;
      for (const step of this.dependents.get(name) ?? []) {
        // Monitoring is never blocked by Kafka: it probes over HTTP, and is most needed when things fail.
        if (step === this.monitoring && name === KAFKA) continue;
        const state = this.stepState.get(step);
        if (state === 'pending' || state === 'building') {
          this.setStep(step, 'blocked');
          this.blockedBy.set(step, name);
          frontier.push(step);
        }
      }
    }
  }
}

function countsOf<S extends string>(groups: Partial<Record<S, string[]>>): Partial<Record<S, number>> {
  return Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, (v as string[]).length])) as Partial<Record<S, number>>;
}

function largest<S extends string>(groups: Partial<Record<S, string[]>>): S | undefined {
  let best: S | undefined;
  for (const [k, v] of Object.entries(groups) as Array<[S, string[]]>) if (!best || v.length > groups[best]!.length) best = k;
  return best;
}

/** States worth naming first when not every name fits: what a person acts on. */
const KEEP_ORDER = ['failed', 'blocked', 'starting', 'provisioning', 'building', 'pending', 'running'];

function compactProgress(full: BootProgress): BootProgress {
  const counts = { vms: countsOf(full.vms), services: countsOf(full.services) };
  const othersVm = largest(full.vms);
  const othersSvc = largest(full.services);
  const vms = { ...full.vms };
  const services = { ...full.services };
  if (othersVm) delete vms[othersVm];
  if (othersSvc) delete services[othersSvc];
  const compact: BootProgress = { ...full, vms, services, others: { vms: othersVm, services: othersSvc }, counts };
  if (JSON.stringify(compact).length <= PROGRESS_BUDGET_CHARS) return compact;
  // Still too large: keep names state by state, most useful first, while they fit.
  const kept: BootProgress = { ...compact, vms: {}, services: {}, truncated: true };
  let size = JSON.stringify(kept).length;
  for (const [group, source] of [['vms', vms], ['services', services]] as const) {
    const target = kept[group] as Record<string, string[]>;
    for (const state of KEEP_ORDER) {
      const names = (source as Record<string, string[] | undefined>)[state];
      if (!names) continue;
      const list: string[] = [];
      target[state] = list;
      size += state.length + 6;
      for (const n of names) {
        if (size + n.length + 3 > PROGRESS_BUDGET_CHARS) break;
        list.push(n);
        size += n.length + 3;
      }
    }
  }
  return kept;
}

/**
 * The root's custom status: the boot's phase and how many of its groups have settled. Each group
 * shows its own `BootProgress`; the API puts them together (`mergeProgress`), so no custom status
 * has to hold the whole platform.
 */
export interface BootRootStatus {
  phase: BootProgress['phase'];
  /** The boot's groups (instances `boot-group-<i>`, i < groups); 0 until they are started. */
  groups: number;
  settled: number;
  /** The monitoring service once the root has it (it starts it after every group settled). */
  monitoring?: { name: string; state: StepState };
}

export function isRootStatus(status: unknown): status is BootRootStatus {
  const s = status as Partial<BootRootStatus> | null;
  return !!s && typeof s === 'object' && typeof s.groups === 'number' && typeof s.phase === 'string';
}

/**
 * One progress for the whole boot from its groups' (missing ones are skipped): names grouped by
 * state. A group whose list was compacted leaves its unlisted names out: the result is `truncated`
 * and `counts` carries every group's totals.
 */
export function mergeProgress(root: BootRootStatus, parts: Array<BootProgress | null | undefined>): BootProgress {
  const vms: Record<string, string[]> = {};
  const services: Record<string, string[]> = {};
  const counts = { vms: {} as Record<string, number>, services: {} as Record<string, number> };
  let truncated = false;
  let failed = 0;
  const add = (into: Record<string, string[]>, total: Record<string, number>, lists: Record<string, string[] | undefined>, partCounts?: Record<string, number | undefined>) => {
    for (const [state, names] of Object.entries(lists)) {
      const kept = (names ?? []).filter((n) => n !== root.monitoring?.name);
      (into[state] ??= []).push(...kept);
      if (!partCounts) total[state] = (total[state] ?? 0) + kept.length;
    }
    if (partCounts) for (const [state, n] of Object.entries(partCounts)) total[state] = (total[state] ?? 0) + (n ?? 0);
  };
  for (const p of parts) {
    if (!p) continue;
    const compacted = p.others !== undefined || p.truncated === true;
    truncated ||= compacted;
    failed += p.failed ?? 0;
    add(vms, counts.vms, p.vms as Record<string, string[] | undefined>, compacted ? p.counts?.vms : undefined);
    add(services, counts.services, p.services as Record<string, string[] | undefined>, compacted ? p.counts?.services : undefined);
  }
  if (root.monitoring) {
    const { name, state } = root.monitoring;
    (services[state] ??= []).push(name);
    if (state === 'failed') failed += 1;
  }
  for (const group of [vms, services]) for (const k of Object.keys(group)) if (group[k]!.length === 0) delete group[k];
  return {
    phase: root.phase,
    vms: vms as BootProgress['vms'],
    services: services as BootProgress['services'],
    ...(failed ? { failed } : {}),
    ...(truncated ? { truncated: true, counts: counts as BootProgress['counts'] } : {}),
  };
}
