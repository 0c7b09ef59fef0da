/**
 * The reconcile's plan: the difference between the desired state and the actual one (VMs in ARM,
 * the LCM's containers on them, code versions in the share), as the changes an operator reads and
 * the ordered steps the reconcile orchestration runs. Pure domain: the dry run and the reconcile
 * call the same function, so what the dry run shows is what the reconcile does.
 */
import { createHash } from 'node:crypto';
import { planTopology } from './plan.js';
import { placementKey, placements, type Placement } from './replicas.js';
import { KAFKA, type ServiceSpec, type Topology } from './topology.js';

/** The labels the LCM puts on each container it runs (docker labels, compared on every start). */
export const LABELS = {
  service: 'lcm.service',
  replica: 'lcm.replica',
  port: 'lcm.port',
  version: 'lcm.version',
  env: 'lcm.env',
  health: 'lcm.health',
  /** Start level when it was started: informational (not compared), orders the stop of a removed service. */
  level: 'lcm.level',
} as const;

export interface ActualVm {
  name: string;
  exists: boolean;
  running: boolean;
  powerState: string;
  publicIp?: string;
  privateIp?: string;
  /** Set when the VM runs but its containers could not be listed. */
  unreadable?: string;
}

export interface ActualContainer {
  vm: string;
  container: string;
  service: string;
  running: boolean;
  labels: Record<string, string>;
}

export interface ActualState {
  vms: ActualVm[];
  containers: ActualContainer[];
  /** Code version of each source folder the desired services use (missing: unknown, not compared). */
  versions: Record<string, string>;
}

export type ChangeAction = 'start' | 'recreate' | 'stop' | 'move' | 'scale' | 'provision';

/** One change as the API and the CLI show it (the contract of POST /api/desired-state/plan). */
export interface Change {
  action: ChangeAction;
  kind: 'service' | 'kafka' | 'vm';
  name: string;
  vm?: string;
  reason: string;
  from?: string;
  to?: string;
  replicas?: { from: number; to: number };
}

/** Start (or recreate) one container. */
export interface StartStep {
  service: string;
  vm: string;
  container: string;
  port: number;
  replica: number;
  level: number;
  /** Set when a container is there and must be replaced: why. */
  recreate?: string;
}

/** Deregister, then stop and remove one container. */
export interface StopStep {
  service: string;
  vm: string;
  container: string;
}

export interface ReconcilePlan {
  changes: Change[];
  unchanged: string[];
  /** VMs to ensure (create or start) before anything else. */
  provision: string[];
  /** Containers of services no longer desired: dependents first. Run before the starts. */
  stops: StopStep[];
  /**
   * Starts in the boot's order: level by level; within a level, round r holds the r-th step of each
   * service, so the replicas of one service are replaced one at a time and it keeps serving.
   */
  starts: StartStep[][][];
  /** Surplus containers of kept services (scale-down, the old side of a move): after the starts. */
  drains: StopStep[];
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Sorted-key JSON of a flat record, so key order never counts as a change. */
const sorted = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The labels a service's replica runs with: what makes a running container current. */
export function serviceLabels(
  spec: Pick<ServiceSpec, 'name' | 'env' | 'secretEnv' | 'health'>,
  placement: Pick<Placement, 'replica' | 'port'>,
  version: string,
): Record<string, string> {
  return {
    [LABELS.service]: spec.name,
    [LABELS.replica]: String(placement.replica),
    [LABELS.port]: String(placement.port),
    [LABELS.version]: version,
    // Secret values are not part of it: only the names of the settings they come from.
    [LABELS.env]: digest({ env: sorted(spec.env), secretEnv: sorted(spec.secretEnv) }),
    [LABELS.health]: digest(sorted(spec.health as Record<string, unknown>)),
  };
}

/** The labels of the Kafka broker's container. */
export function kafkaLabels(version: string): Record<string, string> {
  return { [LABELS.service]: KAFKA, [LABELS.version]: version };
}

/** Why a running container is not current, or undefined when it is. */
function staleness(actual: Record<string, string>, wanted: Record<string, string>, versionKnown: boolean): string | undefined {
  const reasons: string[] = [];
  if (versionKnown && actual[LABELS.version] !== wanted[LABELS.version]) {
    reasons.push(`code version ${actual[LABELS.version] ?? 'unknown'} -> ${wanted[LABELS.version]}`);
  }
  if (actual[LABELS.port] !== wanted[LABELS.port]) reasons.push(`port ${actual[LABELS.port] ?? 'unknown'} -> ${wanted[LABELS.port]}`);
  if (actual[LABELS.env] !== wanted[LABELS.env]) reasons.push('environment changed');
  if (actual[LABELS.health] !== wanted[LABELS.health]) reasons.push('health check changed');
  return reasons.length > 0 ? reasons.join(', ') : undefined;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/**
 * The plan from the desired topology (valid) and the actual state. Deterministic: the same inputs
 * give the same plan, in the same order.
 */
export function planReconcile(desired: Topology, actual: ActualState): ReconcilePlan {
  const plan = planTopology(desired);
  const levelOf = new Map(plan.services.map((s) => [s.name, s.level]));
  const vmOf = new Map(actual.vms.map((v) => [v.name, v]));
  const usable = (vm: string) => {
    const v = vmOf.get(vm);
    return !!v && v.exists && v.running && !v.unreadable;
  };
  const changes: Change[] = [];
  const unchanged: string[] = [];
  const provision: string[] = [];

  for (const vm of desired.vms) {
    const v = vmOf.get(vm.name);
    if (usable(vm.name)) continue;
    if (v?.unreadable) continue; // running, but its containers are unknown: nothing to do from here
    provision.push(vm.name);
    changes.push({ action: 'provision', kind: 'vm', name: vm.name, reason: !v || !v.exists ? 'the VM does not exist' : `the VM is ${v.powerState}` });
  }

  const containersOf = new Map<string, ActualContainer[]>();
  for (const c of actual.containers) containersOf.set(c.service, [...(containersOf.get(c.service) ?? []), c]);

  // Per service (Kafka first), the start steps in order.
  const startsOf: Array<{ level: number; steps: StartStep[] }> = [];
  const stops: Array<StopStep & { level: number }> = [];
  const drains: StopStep[] = [];

  if (desired.kafka) {
    const kafka = desired.kafka;
    const present = (containersOf.get(KAFKA) ?? []).filter((c) => c.vm === kafka.vm);
    const running = present.some((c) => c.running) && usable(kafka.vm);
    const elsewhere = (containersOf.get(KAFKA) ?? []).filter((c) => c.vm !== kafka.vm);
    if (!running) {
      const reason = !usable(kafka.vm) ? `VM "${kafka.vm}" is not running` : present.length > 0 ? 'the broker is stopped' : 'no broker container';
      changes.push(
        elsewhere.length > 0
          ? { action: 'move', kind: 'kafka', name: KAFKA, from: elsewhere[0]!.vm, to: kafka.vm, reason: `placed on VM "${kafka.vm}"` }
          : { action: 'start', kind: 'kafka', name: KAFKA, vm: kafka.vm, reason },
      );
      startsOf.push({ level: 0, steps: [{ service: KAFKA, vm: kafka.vm, container: KAFKA, port: kafka.port, replica: 0, level: 0 }] });
    } else unchanged.push(KAFKA);
    for (const c of elsewhere) drains.push({ service: KAFKA, vm: c.vm, container: c.container });
  }

  for (const spec of desired.services) {
    const level = levelOf.get(spec.name)!;
    const wanted = placements(spec);
    const have = containersOf.get(spec.name) ?? [];
    const haveKeys = new Map(have.map((c) => [placementKey(c), c]));
    const wantKeys = new Set(wanted.map(placementKey));
    const version = actual.versions[spec.source];
    const steps: StartStep[] = [];
    const own: Change[] = [];
    const missing: Placement[] = [];
    for (const p of wanted) {
      const c = haveKeys.get(placementKey(p));
      if (!c || !usable(p.vm)) {
        missing.push(p);
        continue;
      }
      const why = staleness(c.labels, serviceLabels(spec, p, version ?? ''), version !== undefined);
      if (why) {
        steps.push({ service: spec.name, vm: p.vm, container: p.container, port: p.port, replica: p.replica, level, recreate: why });
      } else if (!c.running) {
        steps.push({ service: spec.name, vm: p.vm, container: p.container, port: p.port, replica: p.replica, level });
        own.push({ action: 'start', kind: 'service', name: spec.name, vm: p.vm, reason: `container ${p.container} is stopped` });
      }
    }
    const surplus = have.filter((c) => !wantKeys.has(placementKey(c)));
    const recreated = steps.filter((s) => s.recreate);
    if (recreated.length > 0) {
      own.unshift({ action: 'recreate', kind: 'service', name: spec.name, vm: uniq(recreated.map((s) => s.vm)).join(','), reason: uniq(recreated.map((s) => s.recreate!)).join('; ') });
    }
    // What the missing and surplus containers amount to: a first start, a move, or a scale.
    if (missing.length > 0 || surplus.length > 0) {
      if (have.length === 0) {
        own.unshift({ action: 'start', kind: 'service', name: spec.name, vm: uniq(missing.map((p) => p.vm)).join(','), reason: startReason(missing, usable), ...(wanted.length > 1 ? { replicas: { from: 0, to: wanted.length } } : {}) });
      } else if (have.length === wanted.length) {
        own.unshift({
          action: 'move',
          kind: 'service',
          name: spec.name,
          from: uniq(surplus.map((c) => c.vm)).join(','),
          to: uniq(missing.map((p) => p.vm)).join(','),
          reason: `placed on ${uniq(wanted.map((p) => p.vm)).join(', ')}`,
        });
      } else {
        own.unshift({ action: 'scale', kind: 'service', name: spec.name, replicas: { from: have.length, to: wanted.length }, reason: `${wanted.length} replica(s) desired, ${have.length} found` });
      }
      for (const p of missing) steps.push({ service: spec.name, vm: p.vm, container: p.container, port: p.port, replica: p.replica, level });
      for (const c of surplus) drains.push({ service: spec.name, vm: c.vm, container: c.container });
    }
    steps.sort((a, b) => a.replica - b.replica);
    if (steps.length > 0) startsOf.push({ level, steps });
    if (own.length === 0) unchanged.push(spec.name);
    changes.push(...own);
  }

  // Containers of services no longer desired: stop them, dependents (higher start level) first.
  const desiredNames = new Set([...desired.services.map((s) => s.name), ...(desired.kafka ? [KAFKA] : [])]);
  const removed = uniq(actual.containers.filter((c) => !desiredNames.has(c.service)).map((c) => c.service));
  for (const service of removed) {
    const cs = actual.containers.filter((c) => c.service === service);
    const level = service === KAFKA ? -1 : Math.max(...cs.map((c) => Number(c.labels[LABELS.level] ?? 0)));
    for (const c of cs) stops.push({ service, vm: c.vm, container: c.container, level });
    changes.push({ action: 'stop', kind: service === KAFKA ? 'kafka' : 'service', name: service, vm: uniq(cs.map((c) => c.vm)).join(','), reason: 'removed from the desired state' });
  }
  stops.sort((a, b) => b.level - a.level || (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));

  // Levels, then rounds: the r-th step of every service of a level runs together.
  const depth = Math.max(-1, ...startsOf.map((s) => s.level));
  const starts: StartStep[][][] = [];
  for (let l = 0; l <= depth; l++) {
    const here = startsOf.filter((s) => s.level === l);
    if (here.length === 0) continue;
    const rounds = Math.max(...here.map((s) => s.steps.length));
    starts.push(Array.from({ length: rounds }, (_, r) => here.flatMap((s) => (s.steps[r] ? [s.steps[r]!] : []))));
  }

  return { changes, unchanged, provision, stops: stops.map(({ level: _l, ...s }) => s), starts, drains };
}

function startReason(missing: Placement[], usable: (vm: string) => boolean): string {
  const down = uniq(missing.filter((p) => !usable(p.vm)).map((p) => p.vm));
  return down.length > 0 ? `VM ${down.map((v) => `"${v}"`).join(', ')} is not running yet` : 'no container';
}

/** Whether the plan changes anything. */
export const isNoop = (plan: ReconcilePlan): boolean => plan.changes.length === 0;
