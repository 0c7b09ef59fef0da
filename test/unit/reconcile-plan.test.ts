/**
 * The reconcile planner (platform/reconcile-plan.ts) and replica placement: from a desired topology
 * and an actual state, exactly the changes and steps that converge it, in dependency order.
 */
import { describe, expect, it } from 'vitest';
import { planReconcile, kafkaLabels, LABELS, type ActualState } from '../../functions/platform/reconcile-plan.js';
import { convergedState, twoVmDocument as doc, twoVmTopology, VERSIONS } from '../helpers/reconcile-state.js';
import { placements } from '../../functions/platform/replicas.js';
import { validateTopology } from '../../functions/platform/validate.js';
import type { Topology } from '../../functions/platform/topology.js';

const topo = twoVmTopology;
const converged = (t: Topology, versions?: Record<string, string>): ActualState => convergedState(t, { versions });

const startsOf = (plan: ReturnType<typeof planReconcile>) => plan.starts.map((level) => level.map((round) => round.map((s) => `${s.service}@${s.vm}/${s.container}:${s.port}${s.recreate ? ' (recreate)' : ''}`)));

describe('reconcile planner', () => {
  it('an empty platform: provision every VM, start everything in the boot order', () => {
    const t = topo();
    const plan = planReconcile(t, { vms: [], containers: [], versions: VERSIONS });
    expect(plan.provision).toEqual(['vm-a', 'vm-b']);
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'provision vm vm-a',
      'provision vm vm-b',
      'start kafka kafka',
      'start service api',
      'start service web',
      'start service shop',
    ]);
    expect(startsOf(plan)).toEqual([[['kafka@vm-a/kafka:9092']], [['api@vm-a/api:8000']], [['web@vm-a/web:8080']], [['shop@vm-b/shop:8090']]]);
    expect(plan.unchanged).toEqual([]);
    expect(plan.stops).toEqual([]);
    expect(plan.drains).toEqual([]);
  });

  it('a converged platform: no change, nothing to do, everything unchanged', () => {
    const t = topo();
    const plan = planReconcile(t, converged(t));
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual(['kafka', 'api', 'web', 'shop']);
    expect([plan.provision, plan.stops, plan.starts, plan.drains]).toEqual([[], [], [], []]);
  });

  it('key order of env and health does not count as a change', () => {
    const d = doc();
    d.services[0].env = { B: '2', A: '1' };
    const t1 = topo(d);
    const d2 = doc();
    d2.services[0].env = { A: '1', B: '2' };
    expect(planReconcile(topo(d2), converged(t1)).changes).toEqual([]);
  });

  it('a changed environment and a removed service: exactly those two changes', () => {
    const t = topo();
    const actual = converged(t);
    const d = doc();
    d.services[0].env = { MODE: 'fast' };
    d.services = d.services.filter((s: any) => s.name !== 'shop');
    const plan = planReconcile(topo(d), actual);
    expect(plan.changes).toEqual([
      { action: 'recreate', kind: 'service', name: 'api', vm: 'vm-a', reason: 'environment changed' },
      { action: 'stop', kind: 'service', name: 'shop', vm: 'vm-b', reason: 'removed from the desired state' },
    ]);
    expect(startsOf(plan)).toEqual([[['api@vm-a/api:8000 (recreate)']]]);
    expect(plan.stops).toEqual([{ service: 'shop', vm: 'vm-b', container: 'shop' }]);
    expect(plan.unchanged).toEqual(['kafka', 'web']);
  });

  it('names what changed: code version, port, health check, secret references', () => {
    const t = topo();
    const d = doc();
    d.services[0].port = 8001;
    d.services[1].health = { path: '/ready' };
    d.services[2].secretEnv = { TOKEN: 'SHOP_TOKEN' };
    const actual = converged(t);
    actual.versions.web = 'v2'; // the share holds new code for web
    const plan = planReconcile(topo(d), actual);
    expect(plan.changes.map((c) => `${c.name}: ${c.reason}`)).toEqual([
      'api: port 8000 -> 8001',
      'web: code version v1 -> v2, health check changed',
      'shop: environment changed',
    ]);
  });

  it('an unknown code version (folder unreadable) is not a change', () => {
    const t = topo();
    const actual = converged(t);
    delete actual.versions.api;
    expect(planReconcile(t, actual).changes).toEqual([]);
  });

  it('removed services stop dependents first (by the level they started at); Kafka last', () => {
    const t = topo();
    const actual = converged(t);
    for (const c of actual.containers) c.labels[LABELS.level] = c.service === 'api' ? '1' : c.service === 'web' ? '2' : '3';
    const d = doc();
    d.services = [];
    delete d.kafka;
    const plan = planReconcile(topo(d), actual);
    expect(plan.stops.map((s) => s.service)).toEqual(['shop', 'web', 'api', 'kafka']);
    expect(plan.changes.map((c) => `${c.action} ${c.name}`)).toEqual(['stop shop', 'stop web', 'stop api', 'stop kafka']);
  });

  it('a stopped container is started again', () => {
    const t = topo();
    const actual = converged(t);
    actual.containers.find((c) => c.service === 'web')!.running = false;
    const plan = planReconcile(t, actual);
    expect(plan.changes).toEqual([{ action: 'start', kind: 'service', name: 'web', vm: 'vm-a', reason: 'container web is stopped' }]);
    expect(startsOf(plan)).toEqual([[['web@vm-a/web:8080']]]);
  });

  it('a VM that is deallocated is provisioned and what runs on it started', () => {
    const t = topo();
    const actual = converged(t);
    actual.vms[1] = { name: 'vm-b', exists: true, running: false, powerState: 'deallocated' };
    actual.containers = actual.containers.filter((c) => c.vm !== 'vm-b');
    const plan = planReconcile(t, actual);
    expect(plan.changes).toEqual([
      { action: 'provision', kind: 'vm', name: 'vm-b', reason: 'the VM is deallocated' },
      { action: 'start', kind: 'service', name: 'shop', vm: 'vm-b', reason: 'VM "vm-b" is not running yet' },
    ]);
  });

  it('scale 1 -> 3: two new replicas on their own ports, nothing else', () => {
    const t = topo();
    const d = doc();
    d.services[0].replicas = 3;
    const plan = planReconcile(topo(d), converged(t));
    expect(plan.changes).toEqual([{ action: 'scale', kind: 'service', name: 'api', replicas: { from: 1, to: 3 }, reason: '3 replica(s) desired, 1 found' }]);
    expect(startsOf(plan)).toEqual([[['api@vm-a/api-r1:8001'], ['api@vm-a/api-r2:8002']]]);
    expect(plan.drains).toEqual([]);
  });

  it('scale 3 -> 1: the surplus replicas drain after the starts; nothing starts', () => {
    const d = doc();
    d.services[0].replicas = 3;
    const plan = planReconcile(topo(), converged(topo(d)));
    expect(plan.changes).toEqual([{ action: 'scale', kind: 'service', name: 'api', replicas: { from: 3, to: 1 }, reason: '1 replica(s) desired, 3 found' }]);
    expect(plan.starts).toEqual([]);
    expect(plan.drains).toEqual([
      { service: 'api', vm: 'vm-a', container: 'api-r1' },
      { service: 'api', vm: 'vm-a', container: 'api-r2' },
    ]);
  });

  it('move: start on the target, then drain the old one', () => {
    const d = doc();
    d.services[1].vm = 'vm-b';
    const plan = planReconcile(topo(d), converged(topo()));
    expect(plan.changes).toEqual([{ action: 'move', kind: 'service', name: 'web', from: 'vm-a', to: 'vm-b', reason: 'placed on vm-b' }]);
    expect(startsOf(plan)).toEqual([[['web@vm-b/web:8080']]]);
    expect(plan.drains).toEqual([{ service: 'web', vm: 'vm-a', container: 'web' }]);
  });

  it('a recreate of three replicas runs one at a time (one per round)', () => {
    const d = doc();
    d.services[0].replicas = 3;
    const actual = converged(topo(d));
    d.services[0].env = { MODE: 'x' };
    const plan = planReconcile(topo(d), actual);
    expect(plan.changes).toEqual([{ action: 'recreate', kind: 'service', name: 'api', vm: 'vm-a', reason: 'environment changed' }]);
    expect(startsOf(plan)).toEqual([[['api@vm-a/api:8000 (recreate)'], ['api@vm-a/api-r1:8001 (recreate)'], ['api@vm-a/api-r2:8002 (recreate)']]]);
  });

  it('a service with replicas on several VMs starts them round robin', () => {
    const d = doc();
    d.services[0].replicas = 3;
    d.services[0].vms = ['vm-a', 'vm-b'];
    expect(placements(topo(d).services[0]!).map((p) => `${p.vm}/${p.container}:${p.port}`)).toEqual(['vm-a/api:8000', 'vm-b/api:8000', 'vm-a/api-r1:8001']);
    const plan = planReconcile(topo(d), { vms: [], containers: [], versions: VERSIONS });
    expect(plan.changes.find((c) => c.name === 'api')).toEqual({ action: 'start', kind: 'service', name: 'api', vm: 'vm-a,vm-b', reason: 'VM "vm-a", "vm-b" is not running yet', replicas: { from: 0, to: 3 } });
  });

  it('containers of another service kept running elsewhere than desired: a removed Kafka broker on an old VM drains', () => {
    const t = topo();
    const actual = converged(t);
    actual.containers.push({ vm: 'vm-b', container: 'kafka', service: 'kafka', running: true, labels: kafkaLabels('k1') });
    const plan = planReconcile(t, actual);
    expect(plan.drains).toEqual([{ service: 'kafka', vm: 'vm-b', container: 'kafka' }]);
  });
});

describe('replica validation', () => {
  it('rejects replica ports that collide with another service on the VM, unknown spread VMs, and a vm missing from vms', () => {
    const d = doc();
    d.services[0].replicas = 3; // api: 8000, 8001, 8002 on vm-a
    d.services[1].port = 8002; // web on vm-a
    d.services[2].vms = ['vm-a', 'vm-x'];
    const r = validateTopology(d);
    expect(r.ok).toBe(false);
    const issues = !r.ok ? r.issues : [];
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'services[1].port', message: 'port 8002 on VM "vm-a" is already used by service "api" (replica 3)' },
        { path: 'services[2].vms[1]', message: 'unknown VM "vm-x" (did you mean "vm-a"?)' },
        { path: 'services[2].vms', message: 'must include the service\'s vm "vm-b"' },
      ]),
    );
  });

  it('rejects replicas out of range with the path', () => {
    const d = doc();
    d.services[0].replicas = 0;
    d.services[1].replicas = 2.5;
    const r = validateTopology(d);
    expect(!r.ok && r.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['services[0].replicas', 'services[1].replicas']));
  });
});
