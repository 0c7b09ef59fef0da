/**
 * A boot split into groups (platform/boot-groups.ts), the state of one group whose dependencies
 * live in other groups (BootState's external steps), and the pieces put together again: progress
 * (mergeProgress) and output (mergeShares).
 */
import { describe, expect, it } from 'vitest';
import { bootGroups } from '../../functions/platform/boot-groups.js';
import { describeShare, mergeShares } from '../../functions/platform/boot-output.js';
import { BootState, mergeProgress, type BootProgress } from '../../functions/platform/boot-state.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { exampleDocument } from '../helpers/topology.js';

const topology = assertTopology(exampleDocument());
const versions = new Map([['authentication', 'v1']]);

describe('boot groups', () => {
  it('puts consecutive VMs in groups, each with the steps placed on its VMs and nothing else', () => {
    const split = bootGroups(topology, versions, { groupVms: 3 });
    expect(split.groups.map((g) => g.vms.map((v) => v.spec.name))).toEqual([['vm-core', 'vm-sensors', 'vm-apps'], ['vm-ops']]);
    const steps = split.groups.map((g) => g.steps.map((s) => s.step));
    expect(steps[1]).toEqual(['monitoring']);
    expect(steps.flat().sort()).toEqual(['kafka', ...topology.services.map((s) => s.name)].sort());
    // Kafka's VM opens the broker's external port; only Kafka's VM does.
    expect(split.groups[0]!.vms.find((v) => v.spec.name === 'vm-core')!.inboundPorts).toHaveLength(1);
    expect(split.groups[0]!.vms.filter((v) => v.inboundPorts)).toHaveLength(1);
    expect(split.monitoring).toEqual({ name: 'monitoring', group: 1 });
    expect(split.totals).toEqual({ vms: 4, steps: topology.services.length + 1 });
  });

  it('tells each group what it waits for from another, once per group', () => {
    const split = bootGroups(topology, versions, { groupVms: 1 });
    const [core, sensors, apps, ops] = split.groups;
    // vm-core holds kafka, authentication and request-manager: everything elsewhere needs kafka.
    expect(core!.tell.kafka!.sort()).toEqual([1, 2, 3]);
    expect(core!.tell.authentication).toEqual([1]);
    expect(core!.tell['request-manager']).toEqual([2]);
    expect(sensors!.tell['sensor-manager']).toEqual([2]);
    expect(sensors!.tell['sensor-binder']).toEqual([2]);
    expect(apps!.tell).toEqual({});
    expect(ops!.tell).toEqual({});
    // And each group knows whose word it waits for (the group owning each step of another it needs).
    expect(core!.listen).toEqual({});
    expect(apps!.listen).toEqual({ kafka: 0, 'request-manager': 0, 'sensor-manager': 1, 'sensor-binder': 1 });
    expect(sensors!.listen).toEqual({ kafka: 0, authentication: 0 });
    // Each group's plan names its own VMs only; its dependencies may name other groups' steps.
    expect(apps!.plan.vms).toEqual(['vm-apps']);
    expect(apps!.plan.services.find((s) => s.name === 'dashboard')!.dependsOn.sort()).toEqual(['kafka', 'request-manager', 'sensor-manager']);
  });

  it('hands each step its folder\'s version when the boot has one, and the spec it starts with', () => {
    const split = bootGroups(topology, versions, { groupVms: 10 });
    expect(split.groups).toHaveLength(1);
    const auth = split.groups[0]!.steps.find((s) => s.step === 'authentication')!;
    expect(auth.version).toBe('v1');
    expect(auth.service).toMatchObject({ name: 'authentication', port: topology.services.find((s) => s.name === 'authentication')!.port });
    expect(split.groups[0]!.steps.find((s) => s.step === 'sensor-manager')!.version).toBeUndefined();
    expect(split.groups[0]!.steps.find((s) => s.step === 'kafka')!.order).toBe(0);
  });

  it('refuses a group size that is not a whole number from 1 to 50', () => {
    for (const groupVms of [0, 51, 2.5, Number.NaN]) expect(() => bootGroups(topology, versions, { groupVms })).toThrow(/groupVms: .* is not a whole number from 1 to 50/);
  });
});

describe('a group whose dependencies are elsewhere', () => {
  const split = bootGroups(topology, versions, { groupVms: 1 });
  const apps = () => {
    const state = new BootState(split.groups[2]!.plan);
    state.vmReady('vm-apps');
    return state;
  };
  const built = () => true;

  it('starts a step only once every group it depends on said so', () => {
    const state = apps();
    expect(state.ready(built)).toEqual([]);
    expect(state.waitsOnExternal()).toBe(true);
    expect(state.awaitedExternals().sort()).toEqual(['kafka', 'request-manager', 'sensor-binder', 'sensor-manager']);
    state.externalSettled('kafka', true);
    state.externalSettled('request-manager', true);
    expect(state.ready(built)).toEqual(['deployment-manager']);
    // What no open step here waits for any more is not awaited.
    expect(state.awaitedExternals().sort()).toEqual(['sensor-binder', 'sensor-manager']);
    state.externalSettled('sensor-manager', true);
    expect(state.ready(built).sort()).toEqual(['dashboard', 'deployment-manager']);
    // A repeat changes nothing (each dependency counts once).
    state.externalSettled('sensor-manager', true);
    expect(state.ready(built).sort()).toEqual(['dashboard', 'deployment-manager']);
  });

  it('blocks what depends on a step that failed in another group, and reports it settled', () => {
    const state = apps();
    state.externalSettled('kafka', true);
    state.externalSettled('sensor-binder', false);
    expect(state.state('anomaly-model')).toBe('blocked');
    expect(state.blockedReason('anomaly-model')).toBe('sensor-binder');
    expect(state.drainSettled()).toEqual(['anomaly-model']);
    expect(state.drainSettled()).toEqual([]);
    // The blocked step is no failure of this group: the failure is reported where it happened.
    expect(state.failures()).toEqual([]);
    expect(state.openSteps().sort()).toEqual(['dashboard', 'deployment-manager']);
  });

  it('never lets a failed Kafka elsewhere hold monitoring back', () => {
    const state = new BootState(split.groups[3]!.plan);
    state.vmReady('vm-ops');
    state.externalSettled('kafka', false);
    expect(state.state('monitoring')).not.toBe('blocked');
    expect(state.ready(built)).toEqual(['monitoring']);
    state.handOff('monitoring');
    expect(state.openSteps()).toEqual([]);
    expect(state.waitsOnExternal()).toBe(false);
  });
});

describe('the groups put together', () => {
  it('merges progress by state, with the monitoring service as the root has it', () => {
    const a: BootProgress = { phase: 'starting', vms: { running: ['vm-core'] }, services: { running: ['kafka'], starting: ['authentication'] } };
    const b: BootProgress = { phase: 'finished', vms: { running: ['vm-ops'] }, services: { starting: ['monitoring'] }, failed: 1 };
    const merged = mergeProgress({ phase: 'starting', groups: 2, settled: 1, monitoring: { name: 'monitoring', state: 'running' } }, [a, b, null]);
    expect(merged).toEqual({ phase: 'starting', vms: { running: ['vm-core', 'vm-ops'] }, services: { running: ['kafka', 'monitoring'], starting: ['authentication'] }, failed: 1 });
  });

  it('says so when a group could not list every name, and carries the totals', () => {
    const compacted: BootProgress = { phase: 'starting', vms: {}, services: { failed: ['x'] }, others: { vms: 'running', services: 'running' }, counts: { vms: { running: 12 }, services: { running: 40, failed: 1 } } };
    const merged = mergeProgress({ phase: 'starting', groups: 2, settled: 0 }, [compacted, { phase: 'starting', vms: { running: ['vm-z'] }, services: { running: ['y'] } }]);
    expect(merged.truncated).toBe(true);
    expect(merged.counts).toEqual({ vms: { running: 13 }, services: { running: 41, failed: 1 } });
    expect(merged.services.failed).toEqual(['x']);
  });

  it('puts the shares back in the topology\'s order and takes monitoring from the root', () => {
    const split = bootGroups(topology, versions, { groupVms: 2 });
    const shares = split.groups.map((g) => {
      const state = new BootState(g.plan);
      for (const vm of g.plan.vms) state.vmReady(vm);
      for (const s of g.steps) if (!s.monitoring) state.running(s.step);
      const steps = g.steps.map((s) => ({ step: s.step, kind: s.kind, vm: s.vm, order: s.order }));
      const running = new Map(g.steps.filter((s) => !s.monitoring).map((s) => [s.step, { host: `h-${s.vm}`, port: 1, startedAt: 't' }]));
      const vmInfo = new Map(g.plan.vms.map((vm) => [vm, { publicIp: 'p', privateIp: 'q', powerState: 'running' }]));
      return describeShare({ state, vms: g.plan.vms, steps, vmInfo, running });
    });
    const out = mergeShares(shares, { name: 'monitoring', service: { status: 'running', host: 'h-vm-ops', port: 9, startedAt: 't' } });
    expect(out.status).toBe('succeeded');
    expect(out.vms.map((v) => v.name)).toEqual(topology.vms.map((v) => v.name));
    expect(out.services.map((s) => s.name)).toEqual(['kafka', ...topology.services.map((s) => s.name)]);
    expect(out.services.find((s) => s.name === 'monitoring')).toMatchObject({ status: 'running', port: 9 });
    expect(out.services.every((s) => !('order' in s))).toBe(true);
  });
});
