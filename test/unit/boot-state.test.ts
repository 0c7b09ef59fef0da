import { describe, expect, it } from 'vitest';
import { BootState } from '../../functions/platform/boot-state.js';
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
});
