import { describe, expect, it } from 'vitest';
import { BootState, PROGRESS_BUDGET_CHARS, progressStateOf } from '../../functions/platform/boot-state.js';
import { planTopology } from '../../functions/platform/plan.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { exampleDocument } from '../helpers/topology.js';

function example() {
  const plan = planTopology(assertTopology(exampleDocument()));
  return { plan, state: new BootState(plan) };
}
const prepared = () => true;

describe('boot state', () => {
  it('starts nothing before its VM is ready, then kafka first', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmProvisioning(vm);
    expect(state.ready(prepared)).toEqual([]);
    state.vmReady('vm-core');
    expect(state.ready(prepared)).toEqual(['kafka']);
    state.starting('kafka');
    state.running('kafka');
    expect(state.ready(prepared)).toEqual(['authentication']);
  });

  it('starts a service as soon as its own dependencies run, not in lock-step', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmReady(vm);
    for (const s of ['kafka', 'authentication', 'request-manager']) state.running(s);
    // sensor-manager (same level as request-manager) has not run yet; deployment-manager need not wait for it.
    expect(state.ready(prepared)).toEqual(expect.arrayContaining(['sensor-manager', 'deployment-manager']));
    expect(state.ready(prepared)).not.toContain('dashboard');
  });

  it('starts monitoring only after everything else settled', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmReady(vm);
    for (const s of plan.levels.flat()) if (s !== 'monitoring' && s !== 'anomaly-model') state.running(s);
    expect(state.ready(prepared)).toEqual(['anomaly-model']);
    state.stepFailed('anomaly-model', 'start', 'boom');
    expect(state.ready(prepared)).toEqual(['monitoring']);
  });

  it('a failed VM fails its services and blocks their dependents, transitively; monitoring still starts', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmProvisioning(vm);
    state.vmFailed('vm-sensors', 'provision', 'AllocationFailed');
    expect(state.state('sensor-manager')).toBe('failed');
    expect(state.state('dashboard')).toBe('blocked');
    expect(state.state('anomaly-model')).toBe('blocked');
    expect(state.blockedReason('anomaly-model')).toBe('sensor-binder');
    expect(state.state('deployment-manager')).toBe('building');
    for (const vm of ['vm-core', 'vm-apps', 'vm-ops']) state.vmReady(vm);
    for (const s of ['kafka', 'authentication', 'request-manager', 'deployment-manager']) state.running(s);
    expect(state.ready(prepared)).toEqual(['monitoring']);
    state.running('monitoring');
    expect(state.finished()).toBe(true);
    expect(state.failures().map((f) => f.target).sort()).toEqual(['sensor-binder', 'sensor-controller', 'sensor-manager', 'vm-sensors']);
  });

  it('adopts a step already running as wanted before its dependencies run; its dependents follow; a settled step is not adopted', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmProvisioning(vm);
    state.vmReady('vm-sensors');
    // sensor-manager waits on kafka and authentication, neither started: adopted all the same.
    expect(state.adopt('sensor-manager')).toBe(true);
    expect(state.state('sensor-manager')).toBe('running');
    expect(state.drainSettled()).toEqual(['sensor-manager']);
    // sensor-binder still needs kafka; once kafka runs it is ready, with sensor-manager already running.
    expect(state.ready(prepared)).toEqual([]);
    state.vmReady('vm-core');
    state.running('kafka');
    expect(state.ready(prepared)).toEqual(expect.arrayContaining(['authentication', 'sensor-binder', 'sensor-controller']));
    // A step already blocked stays blocked; adopting it again is a no-op.
    state.vmFailed('vm-apps', 'provision', 'AllocationFailed');
    expect(state.adopt('dashboard')).toBe(false);
    expect(state.state('dashboard')).toBe('failed');
    expect(state.adopt('sensor-manager')).toBe(false);
  });

  it('abandoned, every VM not up and every open step fails with the reason; what runs stays running', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmProvisioning(vm);
    state.vmReady('vm-core');
    state.running('kafka');
    state.starting('authentication');
    state.abandon('group 0 stopped: the task hub refused the start');
    expect(state.state('kafka')).toBe('running');
    expect(state.state('authentication')).toBe('failed');
    expect(state.openSteps()).toEqual([]);
    expect(state.vm('vm-sensors')).toBe('failed');
    expect(state.vm('vm-core')).toBe('running');
    expect(state.failures()).toContainEqual({ target: 'authentication', kind: 'service', step: 'group', reason: 'group 0 stopped: the task hub refused the start' });
    expect(state.failures()).toContainEqual({ target: 'vm-sensors', kind: 'vm', step: 'group', reason: 'group 0 stopped: the task hub refused the start' });
  });

  it('a failed kafka blocks every service but monitoring', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmReady(vm);
    state.stepFailed('kafka', 'start', 'broker never answered');
    expect(plan.services.filter((s) => state.state(s.name) === 'blocked').map((s) => s.name)).not.toContain('monitoring');
    expect(state.ready(prepared)).toEqual(['monitoring']);
  });

  it('keeps its progress compact for 100 VMs and 400 services', () => {
    const vms = Array.from({ length: 100 }, (_, i) => `vm-${i}`);
    const services = Array.from({ length: 400 }, (_, i) => ({
      name: `service-${i}`,
      vm: vms[i % 100]!,
      kind: 'microservice' as const,
      dependsOn: ['kafka'],
      level: 1,
      monitoring: false,
    }));
    const byVm = Object.fromEntries(vms.map((vm) => [vm, services.filter((s) => s.vm === vm).map((s) => s.name)]));
    byVm['vm-0']!.unshift('kafka');
    const state = new BootState({ vms, services, levels: [['kafka'], services.map((s) => s.name)], byVm, kafka: { vm: 'vm-0', port: 9092, topics: [], level: 0 } });
    vms.forEach((vm, i) => (i % 3 ? state.vmReady(vm) : state.vmProvisioning(vm)));
    services.forEach((s, i) => (i % 2 ? state.running(s.name) : state.starting(s.name)));
    const size = JSON.stringify(state.progress('starting')).length;
    expect(size).toBeLessThan(8 * 1024);
  });

  it('keeps the status under Azure\'s 16 KB at 500 VMs / 2,000 services, naming the bulk state once', () => {
    const vms = Array.from({ length: 500 }, (_, i) => `vm-${String(i).padStart(3, '0')}`);
    const services = Array.from({ length: 2000 }, (_, i) => ({ name: `service-${String(i).padStart(4, '0')}`, vm: vms[i % 500]!, kind: 'microservice' as const, dependsOn: [], level: 1, monitoring: false }));
    const byVm = Object.fromEntries(vms.map((vm) => [vm, services.filter((s) => s.vm === vm).map((s) => s.name)]));
    const state = new BootState({ vms, services, levels: [services.map((s) => s.name)], byVm });
    vms.forEach((vm) => state.vmReady(vm));
    services.forEach((s, i) => (i < 1900 ? state.running(s.name) : i < 1990 ? state.starting(s.name) : state.stepFailed(s.name, 'start', 'boom')));
    const p = state.progress('starting');
    expect(JSON.stringify(p).length).toBeLessThanOrEqual(PROGRESS_BUDGET_CHARS);
    expect(p.others).toEqual({ vms: 'running', services: 'running' });
    expect(p.truncated).toBeUndefined();
    expect(p.counts?.services).toEqual({ running: 1900, starting: 90, failed: 10 });
    expect(progressStateOf(p, 'services', 'service-0007')).toBe('running');
    expect(progressStateOf(p, 'services', 'service-1995')).toBe('failed');

    // Half running, half starting: even without the bulk state the names do not fit; the rest is cut, and unknown.
    const half = new BootState({ vms, services, levels: [services.map((s) => s.name)], byVm });
    services.forEach((s, i) => (i % 2 ? half.running(s.name) : half.starting(s.name)));
    const q = half.progress('starting');
    expect(JSON.stringify(q).length).toBeLessThanOrEqual(PROGRESS_BUDGET_CHARS);
    expect(q.truncated).toBe(true);
    expect(q.counts?.services).toEqual({ running: 1000, starting: 1000 });
    expect(progressStateOf(q, 'services', 'service-1999')).toBeUndefined();
  });

  it('lists every name while the status is small', () => {
    const { plan, state } = example();
    for (const vm of plan.vms) state.vmReady(vm);
    const p = state.progress('starting');
    expect(p.others).toBeUndefined();
    expect(progressStateOf(p, 'vms', plan.vms[0]!)).toBe('running');
  });
});
