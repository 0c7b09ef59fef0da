/**
 * A boot split into groups of VMs, so that no orchestration's history grows with the platform.
 *
 * Each group (orchestration `bootGroup`) boots a run of consecutive VMs of the topology and the
 * steps placed on them, with the whole of its share in its input: no group reads the desired state
 * again, and the root holds neither the topology nor a report per VM or service, only one per
 * group. A step whose dependency is placed in another group waits for that group to say it ran or
 * failed; the group owning a step tells every group that depends on it (`tell`).
 *
 * Pure: the boot's prepare activity calls this once per boot.
 */
import { KAFKA, type AzureContext, type KafkaSpec, type ServiceSpec, type Topology, type VmSpec } from './topology.js';
import { planTopology, type Plan } from './plan.js';
import { kafkaPorts } from './kafka-ports.js';

/** VMs per group by default: a group's history then holds about as much as a 10-VM boot's. */
export const BOOT_GROUP_VMS = 10;
/** The most VMs one group may take (its custom status must stay under Azure's 16 KB). */
export const MAX_BOOT_GROUP_VMS = 50;

export type ServiceRuntime = Pick<ServiceSpec, 'name' | 'kind' | 'port' | 'env' | 'secretEnv' | 'health'>;

export interface BootGroupStep {
  step: string;
  vm: string;
  kind: string;
  source: string;
  /** The version of `source` the boot computed (absent: its build versions it and reports what is wrong). */
  version?: string;
  /** Where the step comes in the boot's output: Kafka first, then the topology's order. */
  order: number;
  kafka?: Pick<KafkaSpec, 'port' | 'topics' | 'startupTimeoutInMs'>;
  service?: ServiceRuntime;
  monitoring?: boolean;
}

export interface BootGroupSlice {
  index: number;
  azure: Pick<AzureContext, 'subscriptionId' | 'resourceGroup' | 'location'>;
  /** The group's VMs in topology order; Kafka's VM opens the broker's external port to the app. */
  vms: Array<{ spec: VmSpec; inboundPorts?: number[] }>;
  /** The plan of the group's steps: their dependencies may name steps of other groups. */
  plan: Plan;
  steps: BootGroupStep[];
  /** Per step of this group that steps of other groups depend on: those groups' indexes. */
  tell: Record<string, number[]>;
  /** Per step of another group that a step of this group depends on: that group's index. */
  listen: Record<string, number>;
}

export interface BootGroups {
  groups: BootGroupSlice[];
  /** The monitoring service, started by the root once every group has settled. */
  monitoring?: { name: string; group: number };
  watchdog: { intervalInMs: number; failuresBeforeRestart: number };
  totals: { vms: number; steps: number };
}

/** The code folders a boot builds from: Kafka's and every service's, each once. */
export function codeSources(topology: Topology): string[] {
  return [...new Set([...(topology.kafka ? [topology.kafka.source] : []), ...topology.services.map((s) => s.source)])];
}

/** How many groups bootGroups splits the topology into (known before the code versions are). */
export function bootGroupCount(topology: Topology, options: { groupVms?: number } = {}): number {
  return Math.ceil(topology.vms.length / groupSize(options));
}

function groupSize(options: { groupVms?: number }): number {
  const groupVms = options.groupVms ?? BOOT_GROUP_VMS;
  if (!Number.isInteger(groupVms) || groupVms < 1 || groupVms > MAX_BOOT_GROUP_VMS) {
    throw new Error(`groupVms: ${groupVms} is not a whole number from 1 to ${MAX_BOOT_GROUP_VMS}`);
  }
  return groupVms;
}

/**
 * Splits a valid topology into groups of `groupVms` consecutive VMs, with each source folder's
 * version (`versions`) handed to the steps built from it.
 */
export function bootGroups(topology: Topology, versions: ReadonlyMap<string, string>, options: { groupVms?: number } = {}): BootGroups {
  const groupVms = groupSize(options);
  const plan = planTopology(topology);
  const azure = { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location };
  const groupOfVm = new Map(topology.vms.map((vm, i) => [vm.name, Math.floor(i / groupVms)]));
  const count = bootGroupCount(topology, options);

  const steps = new Map<string, BootGroupStep>();
  const withVersion = (source: string) => {
    const version = versions.get(source);
    return version ? { source, version } : { source };
  };
  if (topology.kafka) {
    const k = topology.kafka;
    steps.set(KAFKA, { step: KAFKA, vm: k.vm, kind: 'broker', ...withVersion(k.source), order: 0, kafka: { port: k.port, topics: k.topics, startupTimeoutInMs: k.startupTimeoutInMs } });
  }
  topology.services.forEach((s, i) => {
    steps.set(s.name, {
      step: s.name,
      vm: s.vm,
      kind: s.kind,
      ...withVersion(s.source),
      order: i + 1,
      service: { name: s.name, kind: s.kind, port: s.port, env: s.env, secretEnv: s.secretEnv, health: s.health },
      ...(s.role === 'monitoring' ? { monitoring: true } : {}),
    });
  });
  const groupOfStep = (step: string): number => groupOfVm.get(steps.get(step)!.vm)!;

  const groups: BootGroupSlice[] = Array.from({ length: count }, (_, index) => {
    const vms = topology.vms.slice(index * groupVms, (index + 1) * groupVms);
    const names = new Set(vms.map((v) => v.name));
    const byVm = Object.fromEntries(vms.map((v) => [v.name, plan.byVm[v.name] ?? []]));
    const kafka = plan.kafka && names.has(plan.kafka.vm) ? plan.kafka : undefined;
    const services = plan.services.filter((s) => names.has(s.vm));
    const levels = plan.levels.map((level) => level.filter((step) => names.has(steps.get(step)!.vm))).filter((l) => l.length > 0);
    return {
      index,
      azure,
      vms: vms.map((spec) => (topology.kafka?.vm === spec.name ? { spec, inboundPorts: [kafkaPorts(topology.kafka.port).external] } : { spec })),
      plan: { vms: vms.map((v) => v.name), ...(kafka ? { kafka } : {}), services, levels, byVm },
      steps: Object.values(byVm).flat().map((step) => steps.get(step)!),
      tell: {},
      listen: {},
    };
  });
  // Who must hear of each step: the groups of the steps that depend on it.
  for (const s of plan.services) {
    const mine = groupOfStep(s.name);
    for (const dep of s.dependsOn) {
      const theirs = groupOfStep(dep);
      if (theirs === mine) continue;
      const tell = (groups[theirs]!.tell[dep] ??= []);
      if (!tell.includes(mine)) tell.push(mine);
      groups[mine]!.listen[dep] = theirs;
    }
  }
  const monitoring = plan.services.find((s) => s.monitoring);
  return {
    groups,
    ...(monitoring ? { monitoring: { name: monitoring.name, group: groupOfStep(monitoring.name) } } : {}),
    watchdog: { intervalInMs: topology.settings.watchdog.intervalInMs, failuresBeforeRestart: topology.settings.watchdog.failuresBeforeRestart },
    totals: { vms: topology.vms.length, steps: steps.size },
  };
}
