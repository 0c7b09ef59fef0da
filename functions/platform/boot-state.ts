/**
 * The boot's bookkeeping, pure and deterministic: which VMs and services are where, which services
 * may start now (their VM is ready and everything they depend on runs), what a failure blocks, and
 * the compact progress shown as the orchestration's custom status.
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

/** Custom status: names grouped by state, so it stays small (well under 16 KB for 100 VMs). */
export interface BootProgress {
  phase: 'starting' | 'running' | 'finished';
  vms: Partial<Record<VmState, string[]>>;
  services: Partial<Record<StepState, string[]>>;
  failed?: number;
}

export class BootState {
  private readonly vmState = new Map<string, VmState>();
  private readonly stepState = new Map<string, StepState>();
  private readonly reasons = new Map<string, Failure>();
  private readonly blockedBy = new Map<string, string>();
  private readonly vmOf = new Map<string, string>();
  private readonly deps = new Map<string, string[]>();
  private readonly monitoring?: string;

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
  }

  /** Steps (Kafka and services) placed on a VM, in plan order. */
  stepsOn(vm: string): string[] {
    return this.plan.byVm[vm] ?? [];
  }

  vmProvisioning(vm: string): void {
    this.vmState.set(vm, 'provisioning');
    for (const step of this.stepsOn(vm)) if (this.stepState.get(step) === 'pending') this.stepState.set(step, 'building');
  }

  vmReady(vm: string): void {
    this.vmState.set(vm, 'running');
  }

  vmFailed(vm: string, step: string, reason: string): void {
    this.vmState.set(vm, 'failed');
    this.reasons.set(`vm:${vm}`, { target: vm, kind: 'vm', step, reason });
    // Everything placed on the VM fails (not merely blocked) before dependents are blocked.
    const placed = this.stepsOn(vm).filter((s) => this.stepState.get(s) === 'pending' || this.stepState.get(s) === 'building');
    for (const s of placed) {
      this.stepState.set(s, 'failed');
      this.reasons.set(`step:${s}`, { target: s, kind: 'service', step: 'vm', reason: `VM "${vm}" failed (${step})` });
    }
    for (const s of placed) this.blockDependents(s);
  }

  /** An image could not be prepared: the step fails before it starts. */
  stepFailed(step: string, where: string, reason: string): void {
    this.fail(step, where, reason);
  }

  starting(step: string): void {
    this.stepState.set(step, 'starting');
  }

  running(step: string): void {
    this.stepState.set(step, 'running');
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
    for (const [step, state] of this.stepState) {
      if (state !== 'pending' && state !== 'building') continue;
      if (this.vmState.get(this.vmOf.get(step)!) !== 'running' || !preparedOnVm(step)) continue;
      if (!this.deps.get(step)!.every((d) => this.satisfied(step, d))) continue;
      if (step === this.monitoring && !this.othersSettled()) continue;
      out.push(step);
    }
    return out;
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
    return { phase, vms, services, ...(failed ? { failed } : {}) };
  }

  private satisfied(step: string, dependency: string): boolean {
    const state = this.stepState.get(dependency);
    // Monitoring does not need Kafka to probe over HTTP: a failed broker does not hold it back.
    if (step === this.monitoring && dependency === KAFKA) return state === 'running' || state === 'failed';
    return state === 'running';
  }

  private othersSettled(): boolean {
    for (const [step, state] of this.stepState) {
      if (step === this.monitoring) continue;
      if (state !== 'running' && state !== 'failed' && state !== 'blocked') return false;
    }
    return true;
  }

  private fail(step: string, where: string, reason: string): void {
    const current = this.stepState.get(step);
    if (current === 'failed' || current === 'blocked' || current === 'running') return;
    this.stepState.set(step, 'failed');
    this.reasons.set(`step:${step}`, { target: step, kind: 'service', step: where, reason });
    this.blockDependents(step);
  }

  private blockDependents(failed: string): void {
    const frontier = [failed];
    while (frontier.length > 0) {
      const name = frontier.pop()!;
      for (const [step, deps] of this.deps) {
        if (!deps.includes(name)) continue;
        // Monitoring is never blocked by Kafka: it probes over HTTP, and is most needed when things fail.
        if (step === this.monitoring && name === KAFKA) continue;
        const state = this.stepState.get(step);
        if (state === 'pending' || state === 'building') {
          this.stepState.set(step, 'blocked');
          this.blockedBy.set(step, name);
          frontier.push(step);
        }
      }
    }
  }
}
