/**
 * The start order of a valid topology. Kafka is level 0; each service comes one level after the
 * deepest of its dependencies (every service implicitly depends on Kafka when there is one); the
 * monitoring service gets a level of its own after everything else. Services in one level may
 * start together, across VMs. Orchestrations should start each service as soon as its own
 * dependencies are healthy; levels are the lock-step view of the same graph.
 */
import { KAFKA, type ServiceKind, type Topology } from './topology.js';

export interface PlannedService {
  name: string;
  vm: string;
  kind: ServiceKind;
  /** Direct dependencies, Kafka included when the topology has it. */
  dependsOn: string[];
  level: number;
  monitoring: boolean;
}

export interface Plan {
  vms: string[];
  kafka?: { vm: string; port: number; topics: string[]; level: 0 };
  services: PlannedService[];
  /** levels[0] can start first; `kafka` is a step of level 0. */
  levels: string[][];
  /** Per VM: the steps placed on it, in start order. */
  byVm: Record<string, string[]>;
}

/** Builds the plan. The topology must be valid (no cycles, known references). */
export function planTopology(topology: Topology): Plan {
  const hasKafka = topology.kafka !== undefined;
  const specs = new Map(topology.services.map((s) => [s.name, s]));
  const levelOf = new Map<string, number>();
  const base = hasKafka ? 1 : 0;

  const level = (name: string, trail: Set<string> = new Set()): number => {
    const known = levelOf.get(name);
    if (known !== undefined) return known;
    if (trail.has(name)) throw new Error(`dependency cycle through "${name}": validate the topology first`);
    trail.add(name);
    const spec = specs.get(name);
    if (!spec) throw new Error(`unknown service "${name}": validate the topology first`);
    let l = base;
    for (const dep of spec.dependsOn) if (dep !== KAFKA) l = Math.max(l, level(dep, trail) + 1);
    trail.delete(name);
    levelOf.set(name, l);
    return l;
  };

  const monitoring = topology.services.find((s) => s.role === 'monitoring');
  for (const s of topology.services) if (s !== monitoring) level(s.name);
  if (monitoring) {
    const others = [...levelOf.values()];
    const after = others.length > 0 ? Math.max(...others) + 1 : base;
    levelOf.set(monitoring.name, Math.max(after, level(monitoring.name)));
  }

  const services: PlannedService[] = topology.services.map((s) => ({
    name: s.name,
    vm: s.vm,
    kind: s.kind,
    dependsOn: [...new Set([...(hasKafka ? [KAFKA] : []), ...s.dependsOn])],
    level: levelOf.get(s.name)!,
    monitoring: s === monitoring,
  }));

  const depth = Math.max(hasKafka ? 0 : -1, ...services.map((s) => s.level));
  const levels: string[][] = Array.from({ length: depth + 1 }, () => []);
  if (hasKafka) levels[0]!.push(KAFKA);
  for (const s of services) levels[s.level]!.push(s.name);

  const byVm: Record<string, string[]> = Object.fromEntries(topology.vms.map((vm) => [vm.name, [] as string[]]));
  const ordered = [...(hasKafka ? [{ name: KAFKA, vm: topology.kafka!.vm, level: 0 }] : []), ...services].sort(
    (a, b) => a.level - b.level,
  );
  for (const step of ordered) byVm[step.vm]!.push(step.name);

  return {
    vms: topology.vms.map((vm) => vm.name),
    ...(hasKafka
      ? { kafka: { vm: topology.kafka!.vm, port: topology.kafka!.port, topics: topology.kafka!.topics.map((t) => t.name), level: 0 as const } }
      : {}),
    services,
    levels,
    byVm,
  };
}
