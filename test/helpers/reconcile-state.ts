/** Fixtures for the reconcile tests: a two-VM topology and its fully converged actual state. */
import { kafkaLabels, LABELS, serviceLabels, type ActualContainer, type ActualState } from '../../functions/platform/reconcile-plan.js';
import { placements } from '../../functions/platform/replicas.js';
import { assertTopology } from '../../functions/platform/validate.js';
import type { ServiceSpec, Topology } from '../../functions/platform/topology.js';
import { minimalDocument } from './topology.js';

/** vm-a and vm-b; Kafka; api <- web <- shop (shop, on vm-b, depends on web). */
export function twoVmDocument(): any {
  const d = minimalDocument();
  d.vms.push({ name: 'vm-b', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' });
  d.services.push({ name: 'shop', kind: 'app', vm: 'vm-b', port: 8090, source: 'shop', dependsOn: ['web'] });
  return d;
}

export const twoVmTopology = (d: any = twoVmDocument()): Topology => assertTopology(d);

/** Code versions by source folder (and Kafka's image) that `convergedState` labels containers with. */
export const VERSIONS: Readonly<Record<string, string>> = { api: 'v1', web: 'v1', shop: 'v1', kafka: 'k1' };

/** The actual state of `t` fully converged: every VM running, every container current at `versions`. */
export function convergedState(t: Topology, options: { versions?: Record<string, string>; ipOf?: (vm: string) => string } = {}): ActualState {
  const versions = options.versions ?? VERSIONS;
  const ipOf = options.ipOf ?? (() => '10.0.0.1');
  const containers: ActualContainer[] = [];
  if (t.kafka) containers.push({ vm: t.kafka.vm, container: 'kafka', service: 'kafka', running: true, labels: kafkaLabels(versions.kafka!) });
  for (const s of t.services) {
    for (const p of placements(s)) {
      containers.push({ vm: p.vm, container: p.container, service: s.name, running: true, labels: { ...serviceLabels(s, p, versions[s.source]!), [LABELS.level]: '1' } });
    }
  }
  return { vms: t.vms.map((v) => ({ name: v.name, exists: true, running: true, powerState: 'running', publicIp: ipOf(v.name), privateIp: ipOf(v.name) })), containers, versions: { ...versions } };
}

/**
 * What readRestartTarget answers for `spec` (a service of `t`), for conformance scripts: the VM it
 * is placed on, each replica where the desired state puts it, no restart streak yet. `service`
 * adds to (or overrides) the service's fields.
 */
export function restartTargetOf(t: Topology, spec: ServiceSpec, service: Record<string, unknown> = {}) {
  const vmOf = (name: string) => t.vms.find((v) => v.name === name)!;
  return {
    service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health, vm: spec.vm, source: spec.source, ...service },
    vm: vmOf(spec.vm),
    replicas: placements(spec).map((p) => ({ index: p.replica, vm: vmOf(p.vm), container: p.container, port: p.port })),
    azure: { subscriptionId: t.azure.subscriptionId, resourceGroup: t.azure.resourceGroup, location: t.azure.location },
    policy: t.settings.restart,
    streak: { streak: 0 },
  };
}
