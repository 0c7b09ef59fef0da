/**
 * The watchdog over a replicated monitoring service, round after round (each round one execution,
 * continued as new), under the extension's action processing with stub activities: every replica is
 * checked once per round, failures are counted per replica, and only the replica that failed
 * `failuresBeforeRestart` rounds in a row is restarted; the restart restarts only that replica.
 */
import { describe, expect, it } from 'vitest';
import { A, O, type ReplicaAccess, type VmAccess } from '../../functions/activities/contracts.js';
import { buildImages } from '../../functions/orchestrations/build-images.js';
import { restartService, type RestartServiceInput } from '../../functions/orchestrations/restart-service.js';
import { watchdog, type WatchdogInput } from '../../functions/orchestrations/watchdog.js';
import { placements } from '../../functions/platform/replicas.js';
import type { Topology } from '../../functions/platform/topology.js';
import { restartTargetOf, twoVmDocument, twoVmTopology } from '../helpers/reconcile-state.js';
import { run, type Script } from './driver.js';

const orchestrators = { [O.watchdog]: watchdog, [O.restartService]: restartService, [O.buildImages]: buildImages };
const activities = Object.values(A);
const ipOf = (vm: string) => (vm === 'vm-a' ? '10.1.0.10' : vm === 'vm-b' ? '10.1.0.11' : '10.1.0.12');

/** The two-VM topology with its first service as monitoring, 3 replicas over both VMs (vm-a, vm-b, vm-a). */
function replicated(): Topology {
  const d = twoVmDocument();
  d.services[0].replicas = 3;
  d.services[0].vms = ['vm-a', 'vm-b'];
  return twoVmTopology(d);
}
const t = replicated();
const spec = t.services[0]!;
const runtime = { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health };
const access = (vm: string): VmAccess => ({ name: vm, host: ipOf(vm), privateIp: ipOf(vm), adminUser: 'azureuser', sshKeySecret: 'SSH_KEY' });
const located = (moved?: { replica: number; vm: string }): ReplicaAccess[] =>
  placements(spec).map((p) => ({ index: p.replica, container: p.container, port: p.port, vm: access(moved?.replica === p.replica ? moved.vm : p.vm) }));

interface Round {
  /** Health checks as `vm/container:port`, in the order scheduled. */
  checked: string[];
  restarts: RestartServiceInput[];
  next: WatchdogInput;
  status: Record<string, unknown>;
}

/** One watchdog round: `unhealthy` names the replicas whose check fails this round. */
async function round(input: WatchdogInput, unhealthy: number[], opts: { seed: number; moved?: { replica: number; vm: string } }): Promise<Round> {
  const checked: string[] = [];
  const restarts: RestartServiceInput[] = [];
  const script: Script = (name, i) => {
    switch (name) {
      case A.locateService: {
        const replicas = located(opts.moved);
        return { ok: true, value: { state: 'found', service: { ...runtime, port: replicas[0]!.port }, vm: replicas[0]!.vm, replicas } };
      }
      case A.checkHealth: {
        const index = i.replica?.index ?? 0;
        checked.push(`${i.vm.name}/${i.replica?.container ?? i.service.name}:${i.service.port}`);
        const healthy = !unhealthy.includes(index);
        return { ok: true, value: { service: i.service.name, healthy, running: healthy, ...(healthy ? {} : { detail: `no healthy answer at ${i.vm.privateIp}:${i.service.port}/health` }) } };
      }
      case A.startRestart:
        restarts.push(i);
        return { ok: true, value: { instanceId: `restart-svc-${i.service}`, started: true } };
      default:
        return { ok: false, error: `unexpected activity ${name}` };
    }
  };
  const r = await run({ orchestrators, activities, script, root: { name: O.watchdog, id: 'watchdog', input }, seed: opts.seed, maxBatch: 2 });
  expect(r.problems).toEqual([]);
  expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
  const inst = r.instances.get('watchdog')!;
  expect(inst.status).toBe('ContinuedAsNew');
  // The watchdog starts its restart through the client activity, never as a sub-orchestration.
  expect([...r.instances.keys()]).toEqual(['watchdog']);
  return { checked, restarts, next: inst.continuedWith as WatchdogInput, status: inst.customStatus as Record<string, unknown> };
}

describe('conformance: the watchdog over a replicated monitoring service', () => {
  const first: WatchdogInput = { service: runtime, vm: access(spec.vm), intervalInMs: 1000, failuresBeforeRestart: 2 };

  it('checks every replica each round, counts failures per replica and restarts only the one that failed twice in a row', async () => {
    const all = ['vm-a/api:8000', 'vm-b/api:8000', 'vm-a/api-r1:8001'];
    expect(spec.name).toBe('api');
    // Round 1: replicas 1 and 2 fail once; nothing restarts.
    const r1 = await round(first, [1, 2], { seed: 31 });
    expect([...r1.checked].sort()).toEqual([...all].sort());
    expect(r1.restarts).toEqual([]);
    expect(r1.next.replicas!.map((r) => r.failures)).toEqual([0, 1, 1]);
    expect(r1.status).toMatchObject({ healthy: false, failures: 1, rounds: 1 });
    expect((r1.status.replicas as Array<{ replica: number; healthy: boolean }>).map((r) => r.healthy)).toEqual([true, false, false]);

    // Round 2: replica 1 fails again, replica 2 recovered: only replica 1 is restarted, and the request says which and where.
    const r2 = await round(r1.next, [1], { seed: 32 });
    expect([...r2.checked].sort()).toEqual([...all].sort());
    expect(r2.restarts).toEqual([
      {
        service: 'api',
        kind: spec.kind,
        requestedBy: 'watchdog',
        reason: 'monitoring replica 1 (api on vm-b) failed 2 health checks in a row (no healthy answer at 10.1.0.11:8000/health)',
        replicas: [1],
      },
    ]);
    expect(r2.next.replicas!.map((r) => r.failures)).toEqual([0, 0, 0]);
    expect(r2.next.lastRestart?.outcome).toBe('started restart-svc-api (replicas 1)');

    // Round 3: replica 1 fails once more: its count started over after the restart.
    const r3 = await round(r2.next, [1], { seed: 33 });
    expect(r3.restarts).toEqual([]);
    expect(r3.next.replicas!.map((r) => r.failures)).toEqual([0, 1, 0]);
  });

  it('a replica that moved starts its count over at its new place; replicas due in one round share one restart', async () => {
    const r1 = await round(first, [0, 1], { seed: 41 });
    expect(r1.next.replicas!.map((r) => r.failures)).toEqual([1, 1, 0]);
    // Replica 1 now runs on vm-c: its failure there is its first; replica 0 reaches two.
    const r2 = await round(r1.next, [0, 1], { seed: 42, moved: { replica: 1, vm: 'vm-c' } });
    expect(r2.checked).toContain('vm-c/api:8000');
    expect(r2.restarts.map((r) => r.replicas)).toEqual([[0]]);
    expect(r2.next.replicas!.map((r) => `${r.vm.name}:${r.failures}`)).toEqual(['vm-a:0', 'vm-c:1', 'vm-a:0']);
    const r3 = await round(r2.next, [0, 1, 2], { seed: 43, moved: { replica: 1, vm: 'vm-c' } });
    // Replica 1 fails twice at its new place; replicas 0 and 2 once since.
    expect(r3.restarts.map((r) => r.replicas)).toEqual([[1]]);
    const r4 = await round(r3.next, [0, 1, 2], { seed: 44, moved: { replica: 1, vm: 'vm-c' } });
    expect(r4.restarts).toHaveLength(1);
    expect(r4.restarts[0]!.replicas).toEqual([0, 2]);
    expect(r4.restarts[0]!.reason).toBe(
      'monitoring replica 0 (api on vm-a) failed 2 health checks in a row (no healthy answer at 10.1.0.10:8000/health); ' +
        'monitoring replica 2 (api-r1 on vm-a) failed 2 health checks in a row (no healthy answer at 10.1.0.10:8001/health)',
    );
    expect(r4.next.replicas!.map((r) => r.failures)).toEqual([0, 1, 0]);
  });

  it('the last known places are checked when locating fails', async () => {
    const r1 = await round(first, [], { seed: 51 });
    const checked: string[] = [];
    const r = await run({
      orchestrators,
      activities,
      script: (name, i) => {
        if (name === A.locateService) return { ok: false, error: 'the central database cannot be reached' };
        if (name === A.checkHealth) return (checked.push(`${i.vm.name}/${i.replica?.container ?? i.service.name}`), { ok: true, value: { service: i.service.name, healthy: true, running: true } });
        return { ok: false, error: `unexpected activity ${name}` };
      },
      root: { name: O.watchdog, id: 'watchdog', input: r1.next },
      seed: 52,
    });
    expect(r.problems).toEqual([]);
    expect(checked.sort()).toEqual(['vm-a/api', 'vm-a/api-r1', 'vm-b/api']);
  });
});

describe('conformance: a restart of some replicas (the watchdog\'s)', () => {
  const ops: string[] = [];
  const events: Array<{ type: string; outcome: string; reason?: string; details?: Record<string, unknown> }> = [];
  const script: Script = (name, input) => {
    switch (name) {
      case A.readRestartTarget:
        return { ok: true, value: restartTargetOf(t, spec, { role: 'monitoring' }) };
      case A.ensureVm:
        ops.push(`ensureVm ${input.vm.name}`);
        return { ok: true, value: { name: input.vm.name, publicIp: ipOf(input.vm.name), privateIp: ipOf(input.vm.name), powerState: 'running', created: false, started: false } };
      case A.restartContainer:
        ops.push(`restart ${input.vm.name}/${input.replica?.container ?? input.service.name}:${input.service.port}`);
        return { ok: true, value: { service: input.service.name, healthy: true, running: true, host: input.vm.privateIp, port: input.service.port } };
      case A.recordEvent:
        events.push(input);
        return { ok: true, value: null };
      case A.recordRestart:
        ops.push(`recordRestart ${input.outcome}`);
        return { ok: true, value: null };
      default:
        return { ok: false, error: `unexpected activity ${name}` };
    }
  };
  const restart = (replicas: number[]) => ({ service: 'api', kind: spec.kind, requestedBy: 'watchdog', reason: 'test', replicas }) satisfies RestartServiceInput;

  it('restarts only the replicas named, and its events and output say which', async () => {
    for (const seed of [61, 62]) {
      ops.length = 0;
      events.length = 0;
      const r = await run({ orchestrators, activities, script, root: { name: O.restartService, id: 'restart-svc-api', input: restart([2]) }, seed, maxBatch: 3 });
      expect(r.problems).toEqual([]);
      expect(ops).toEqual(['ensureVm vm-a', 'restart vm-a/api-r1:8001', 'recordRestart succeeded']);
      expect(r.instances.get('restart-svc-api')!.output).toMatchObject({ outcome: 'restarted', replicas: [2], host: ipOf('vm-a'), port: 8001 });
      expect(events.map((e) => `${e.type} ${e.outcome} ${JSON.stringify(e.details?.replicas)}`)).toEqual(['restart started [2]', 'restart succeeded [2]']);
    }
  });

  it('replicas no longer in the desired state: nothing restarted, and the event says why', async () => {
    ops.length = 0;
    events.length = 0;
    const r = await run({ orchestrators, activities, script, root: { name: O.restartService, id: 'restart-svc-api', input: restart([5]) }, seed: 63 });
    expect(r.problems).toEqual([]);
    expect(ops).toEqual([]);
    const reason = 'replica(s) 5 of "api" are not in the desired state any more (it has 3): nothing restarted';
    expect(r.instances.get('restart-svc-api')!.output).toMatchObject({ outcome: 'failed', replicas: [], reason });
    expect(events).toMatchObject([{ type: 'restart', outcome: 'failed', reason }]);
  });
});
