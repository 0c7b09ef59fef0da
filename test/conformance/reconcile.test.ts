/**
 * The reconcile orchestration under the extension's action processing (local/host/shim.ts) with
 * stub activities that hold a small actual state: each piece of work is scheduled once whatever the
 * completion order; exactly the planned container operations run, in dependency order; a move or
 * scale-up starts before anything drains, and a failed start drains nothing; it waits for a running
 * restart; a desired state changed meanwhile makes it go again.
 */
import { describe, expect, it } from 'vitest';
import { A, O } from '../../functions/activities/contracts.js';
import { bootVm } from '../../functions/orchestrations/boot-vm.js';
import { buildImages } from '../../functions/orchestrations/build-images.js';
import { reconcile, type ReconcileOutput } from '../../functions/orchestrations/reconcile.js';
import { restartService } from '../../functions/orchestrations/restart-service.js';
import { planReconcile, type ActualState } from '../../functions/platform/reconcile-plan.js';
import type { Topology } from '../../functions/platform/topology.js';
import { convergedState, restartTargetOf, twoVmDocument as doc, twoVmTopology } from '../helpers/reconcile-state.js';
import { run, type Script } from './driver.js';

const orchestrators = { [O.reconcile]: reconcile, [O.bootVm]: bootVm, [O.restartService]: restartService, [O.buildImages]: buildImages };
const activities = Object.values(A);
const ipOf = (vm: string) => (vm === 'vm-a' ? '10.1.0.10' : '10.1.0.11');

const topo = twoVmTopology;
const converged = (t: Topology): ActualState => convergedState(t, { ipOf });

interface World {
  ops: string[];
  script: Script;
}

/** Stub activities over one desired state and one actual state; `ops` logs every container and registry operation. */
function world(desired: Topology, actual: ActualState, opts: { failStart?: (service: string, vm: string) => boolean; busy?: number; versions?: number[] } = {}): World {
  const ops: string[] = [];
  let busy = opts.busy ?? 0;
  const versions = [...(opts.versions ?? [1, 1])];
  const script: Script = (name, input) => {
    switch (name) {
      case A.activeOperations:
        return { ok: true, value: busy-- > 0 ? ['restart-svc-api'] : [] };
      case A.readDesiredState:
        ops.push('readDesiredState');
        return { ok: true, value: { topology: desired, version: versions.length > 1 ? versions.shift()! : versions[0]! } };
      case A.readActualState:
        return { ok: true, value: actual };
      case A.ensureVm:
        ops.push(`ensureVm ${input.vm.name}`);
        return { ok: true, value: { name: input.vm.name, publicIp: ipOf(input.vm.name), privateIp: ipOf(input.vm.name), powerState: 'running', created: true, started: true } };
      case A.startBuilds:
        return { ok: true, value: input.builds.map((b: { step: string }) => ({ step: b.step, state: 'built', image: { step: b.step, image: `lcm/${b.step}:v1`, version: 'v1', built: false } })) };
      case A.startService:
        ops.push(`start ${input.service.name}@${input.vm.name}/${input.replica.container}:${input.replica.port}`);
        if (opts.failStart?.(input.service.name, input.vm.name)) return { ok: false, error: `service "${input.service.name}" did not answer` };
        return { ok: true, value: { service: input.service.name, kind: input.service.kind, vm: input.vm.name, host: input.vm.privateIp, port: input.replica.port, status: 'running', startedAt: 't', action: 'replaced' } };
      case A.startKafka:
        ops.push(`start kafka@${input.vm.name}`);
        return { ok: true, value: { service: 'kafka', kind: 'broker', vm: input.vm.name, host: input.vm.privateIp, port: input.kafka.port, status: 'running', startedAt: 't', action: 'created' } };
      case A.deregisterInstance:
        ops.push(`deregister ${input.service}@${input.vm}/${input.container}`);
        return { ok: true, value: null };
      case A.stopContainer:
        ops.push(`stop ${input.service}@${input.vm.name}/${input.container}`);
        return { ok: true, value: { service: input.service, vm: input.vm.name, container: input.container, removed: true } };
      default:
        return { ok: true, value: null };
    }
  };
  return { ops, script };
}

const orders = [
  { seed: 1, maxBatch: 1 },
  { seed: 2, maxBatch: 3 },
  { seed: 3, maxBatch: 40 },
];

async function reconcileOnce(w: World, order = orders[0]!) {
  const r = await run({ orchestrators, activities, script: w.script, root: { name: O.reconcile, id: 'reconcile', input: { requestedBy: 'test' } }, ...order });
  expect(r.problems).toEqual([]);
  // Reads repeat by design (the desired state at the start and the end; the busy check per wait):
  // their counts are asserted where they matter. Everything else is scheduled once.
  const reads = new Set<string>([A.readDesiredState, A.activeOperations]);
  expect([...r.scheduled].filter(([k, n]) => n > 1 && !reads.has(k.split('|')[1]!))).toEqual([]);
  expect(w.ops.filter((o) => o === 'readDesiredState').length).toBe(2);
  return r;
}

const containerOps = (ops: string[]) => ops.filter((o) => /^(start|stop|deregister|ensureVm) /.test(o));

describe('conformance: the reconcile', () => {
  for (const order of orders) {
    it(`a changed environment and a removed service: exactly those two container changes (seed ${order.seed})`, async () => {
      const d = doc();
      d.services[0].env = { MODE: 'fast' };
      d.services = d.services.filter((s: any) => s.name !== 'shop');
      const desired = topo(d);
      const actual = converged(topo());
      const w = world(desired, actual);
      const r = await reconcileOnce(w, order);
      const inst = r.instances.get('reconcile')!;
      expect(inst.status).toBe('Completed');
      const out = inst.output as ReconcileOutput;
      expect(out.status).toBe('succeeded');
      // The dry run's planner on the same input gives what the reconcile reports having done.
      expect(out.changes).toEqual(planReconcile(desired, actual).changes);
      expect(containerOps(w.ops)).toEqual(['deregister shop@vm-b/shop', 'stop shop@vm-b/shop', 'start api@vm-a/api:8000']);
      expect(out.steps.map((s) => `${s.op} ${s.service} ${s.outcome}`)).toEqual(['stop shop removed', 'recreate api replaced']);
    });
  }

  it('nothing to do on a converged platform: no container operation, no event', async () => {
    const t = topo();
    const w = world(t, converged(t));
    const r = await reconcileOnce(w);
    const out = r.instances.get('reconcile')!.output as ReconcileOutput;
    expect(out).toMatchObject({ status: 'succeeded', changes: [], steps: [] });
    expect(containerOps(w.ops)).toEqual([]);
    expect([...r.scheduled.keys()].some((k) => k.includes(A.recordEvent))).toBe(false);
  });

  for (const order of orders) {
    it(`move: starts on the target before it deregisters and stops the old one (seed ${order.seed})`, async () => {
      const d = doc();
      d.services[1].vm = 'vm-b';
      const w = world(topo(d), converged(topo()));
      await reconcileOnce(w, order);
      expect(containerOps(w.ops)).toEqual(['start web@vm-b/web:8080', 'deregister web@vm-a/web', 'stop web@vm-a/web']);
    });
  }

  it('a move whose start on the target fails stops nothing: the old container keeps serving', async () => {
    const d = doc();
    d.services[1].vm = 'vm-b';
    const w = world(topo(d), converged(topo()), { failStart: (s, vm) => s === 'web' && vm === 'vm-b' });
    const r = await reconcileOnce(w);
    const out = r.instances.get('reconcile')!.output as ReconcileOutput;
    expect(containerOps(w.ops)).toEqual(['start web@vm-b/web:8080']);
    expect(out.status).toBe('failed');
    expect(out.failures).toEqual([expect.stringContaining('did not answer')]);
    expect(out.steps.find((s) => s.op === 'drain')).toMatchObject({ service: 'web', vm: 'vm-a', outcome: 'skipped' });
  });

  it('scale 1 -> 3 starts two replicas one after the other; 3 -> 1 deregisters both, then stops them', async () => {
    const d = doc();
    d.services[0].replicas = 3;
    const up = world(topo(d), converged(topo()));
    await reconcileOnce(up);
    expect(containerOps(up.ops)).toEqual(['start api@vm-a/api-r1:8001', 'start api@vm-a/api-r2:8002']);
    const down = world(topo(), converged(topo(d)));
    await reconcileOnce(down);
    expect(containerOps(down.ops)).toEqual(['deregister api@vm-a/api-r1', 'deregister api@vm-a/api-r2', 'stop api@vm-a/api-r1', 'stop api@vm-a/api-r2']);
  });

  it('a recreate of a replicated service takes each replica out of the registry before replacing it, one at a time', async () => {
    const d = doc();
    d.services[0].replicas = 2;
    const actual = converged(topo(d));
    d.services[0].env = { MODE: 'x' };
    const w = world(topo(d), actual);
    await reconcileOnce(w);
    expect(containerOps(w.ops)).toEqual(['deregister api@vm-a/api', 'start api@vm-a/api:8000', 'deregister api@vm-a/api-r1', 'start api@vm-a/api-r1:8001']);
  });

  it('a failed start blocks its dependents, not the rest', async () => {
    const w = world(topo(), { ...converged(topo()), containers: [] }, { failStart: (s) => s === 'api' });
    const r = await reconcileOnce(w);
    const out = r.instances.get('reconcile')!.output as ReconcileOutput;
    expect(containerOps(w.ops)).toEqual(['start kafka@vm-a', 'start api@vm-a/api:8000']);
    expect(out.steps.filter((s) => s.outcome === 'skipped').map((s) => `${s.service}: ${s.reason}`)).toEqual(['web: its dependency "api" failed', 'shop: its dependency "web" failed']);
    expect(out.status).toBe('partial');
  });

  it('an empty platform: the VMs through the boot\'s per-VM orchestration, then everything in the boot order', async () => {
    const t = topo();
    const w = world(t, { vms: [], containers: [], versions: { api: 'v1', web: 'v1', shop: 'v1', kafka: 'k1' } });
    const r = await reconcileOnce(w, orders[2]);
    expect(r.instances.get('reconcile-vm-vm-a')?.status).toBe('Completed');
    expect(r.instances.get('reconcile-vm-vm-b')?.status).toBe('Completed');
    expect(containerOps(w.ops).filter((o) => o.startsWith('start'))).toEqual(['start kafka@vm-a', 'start api@vm-a/api:8000', 'start web@vm-a/web:8080', 'start shop@vm-b/shop:8090']);
    expect((r.instances.get('reconcile')!.output as ReconcileOutput).status).toBe('succeeded');
  });

  it('waits while a restart runs, and reads the desired state only after it ended', async () => {
    const d = doc();
    d.services[0].env = { MODE: 'x' };
    const w = world(topo(d), converged(topo()), { busy: 2 });
    const r = await reconcileOnce(w);
    expect(r.instances.get('reconcile')!.status).toBe('Completed');
    const activeChecks = [...r.scheduled].filter(([k]) => k.includes(A.activeOperations)).reduce((n, [, c]) => n + c, 0);
    expect(activeChecks).toBe(3);
    expect(containerOps(w.ops)).toEqual(['start api@vm-a/api:8000']);
  });

  it('goes again (continueAsNew) when the desired state changed while it ran', async () => {
    const t = topo();
    const w = world(t, converged(t), { versions: [1, 2] });
    const r = await reconcileOnce(w);
    expect(r.instances.get('reconcile')!.status).toBe('ContinuedAsNew');
  });
});

describe('conformance: a restart of a replicated service', () => {
  it('restarts its replicas one at a time, reads each VM once, recreates only the replica that did not heal', async () => {
    const d = doc();
    d.services[0].replicas = 3;
    d.services[0].vms = ['vm-a', 'vm-b'];
    const t = topo(d);
    const spec = t.services[0]!;
    const ops: string[] = [];
    const script: Script = (name, input) => {
      switch (name) {
        case A.readRestartTarget:
          return { ok: true, value: restartTargetOf(t, spec) };
        case A.ensureVm:
          ops.push(`ensureVm ${input.vm.name}`);
          return { ok: true, value: { name: input.vm.name, publicIp: ipOf(input.vm.name), privateIp: ipOf(input.vm.name), powerState: 'running', created: false, started: false } };
        case A.restartContainer: {
          const container = input.replica?.container ?? input.service.name;
          ops.push(`restart ${input.vm.name}/${container}:${input.service.port}`);
          const healthy = !(input.vm.name === 'vm-b');
          return { ok: true, value: { service: input.service.name, healthy, running: healthy, ...(healthy ? { host: input.vm.privateIp, port: input.service.port } : {}) } };
        }
        case A.startBuilds:
          return { ok: true, value: input.builds.map((b: { step: string }) => ({ step: b.step, state: 'built', image: { step: b.step, image: `lcm/${b.step}:v1`, version: 'v1', built: false } })) };
        case A.startService:
          ops.push(`recreate ${input.vm.name}/${input.replica?.container ?? input.service.name}:${input.replica?.port ?? input.service.port}`);
          return { ok: true, value: { service: input.service.name, kind: input.service.kind, vm: input.vm.name, host: input.vm.privateIp, port: input.replica?.port ?? input.service.port, status: 'running', startedAt: 't', action: 'replaced' } };
        default:
          return { ok: true, value: null };
      }
    };
    for (const order of orders) {
      ops.length = 0;
      const r = await run({ orchestrators, activities, script, root: { name: O.restartService, id: 'restart-svc-api', input: { service: 'api', kind: 'microservice', requestedBy: 'test', reason: 'test' } }, ...order });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      expect(r.instances.get('restart-svc-api')!.output).toMatchObject({ outcome: 'recreated', host: ipOf('vm-a'), port: 8000 });
      expect(ops).toEqual(['ensureVm vm-a', 'restart vm-a/api:8000', 'ensureVm vm-b', 'restart vm-b/api:8000', 'recreate vm-b/api:8000', 'restart vm-a/api-r1:8001']);
      // The image came from the build orchestration (detached on the VM, polled), not an activity holding a slot.
      expect([...r.instances].filter(([id]) => id.includes('-build-')).map(([id, i]) => `${id} ${i.status}`)).toEqual(['restart-svc-api-build-vm-b-1 Completed']);
    }
  });
});
