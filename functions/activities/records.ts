/** Activities on the registry and the event log: restart bookkeeping and audit events. */
import { centralDb } from '../deps.js';
import { instancesOf } from '../cloud/central-db.js';
import { currentPlacements, placements } from '../platform/replicas.js';
import type { EventInput, MarkServiceInput, RecordRestartInput, ReplicaAccess, RestartTarget, ServiceLocation } from './contracts.js';

export async function recordEvent(input: EventInput): Promise<void> {
  await (await centralDb()).recordEvent(input);
}

export async function readRestartTarget(input: { service: string }): Promise<RestartTarget> {
  const db = await centralDb();
  const topology = await db.readTopology();
  const spec = topology?.services.find((s) => s.name === input.service);
  if (!topology || !spec) throw new Error(`service "${input.service}" is not in the desired state`);
  const vm = topology.vms.find((v) => v.name === spec.vm)!;
  const entry = await db.getEntry(input.service);
  const replicas = placements(spec);
  return {
    ...(replicas.length > 1
      ? { replicas: replicas.map((p) => ({ index: p.replica, vm: topology.vms.find((v) => v.name === p.vm)!, container: p.container, port: p.port })) }
      : {}),
    service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health, vm: spec.vm, source: spec.source, role: spec.role },
    vm,
    azure: { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location },
    policy: topology.settings.restart,
    streak: { streak: entry?.restartStreak ?? 0, lastRestartAt: entry?.lastRestartAt },
  };
}

/**
 * Where `service` runs now: each started replica where the registry has it (during a move the
 * desired state already names the target while the old side still serves; platform/replicas.ts
 * currentPlacements). The watchdog follows a move, a changed spec or a scale with it.
 * `service`/`vm` are the first reachable replica's (replica 0 but while its VM has no address).
 */
export async function locateService(input: { service: string }): Promise<ServiceLocation> {
  const db = await centralDb();
  const topology = await db.readTopology();
  const spec = topology?.services.find((s) => s.name === input.service);
  if (!topology || !spec) return { state: 'removed', reason: `"${input.service}" is not in the desired state` };
  // A container on a VM the desired state dropped is not followed: its replica is checked where it belongs.
  const registered = instancesOf(await db.getEntry(input.service)).filter((i) => topology.vms.some((v) => v.name === i.vm));
  // A replica the registry does not list has not started yet (a scale-up the reconcile is carrying
  // out, or a start that failed and was reported): restarting it would race the reconcile. With
  // nothing registered at all (an entry lost), the desired places are checked.
  const all = currentPlacements(spec, registered);
  const started = all.filter((p) => p.registered);
  const places = started.length > 0 ? started : all;
  const records = await db.listVms();
  const replicas: ReplicaAccess[] = [];
  for (const p of places) {
    const vm = topology.vms.find((v) => v.name === p.vm);
    const record = records.find((v) => v.name === p.vm);
    // A VM not provisioned yet (or dropped from the desired state) cannot be reached: not watched until it is.
    if (!vm || !record?.publicIp || !record.privateIp) continue;
    replicas.push({ index: p.replica, container: p.container, port: p.port, vm: { name: vm.name, host: record.publicIp, privateIp: record.privateIp, adminUser: vm.adminUser, sshKeySecret: vm.sshKeySecret } });
  }
  const first = replicas[0];
  if (!first) return { state: 'unknown', reason: `VM "${places[0]!.vm}" has no recorded address yet` };
  return {
    state: 'found',
    service: { name: spec.name, kind: spec.kind, port: first.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
    vm: first.vm,
    replicas,
  };
}

/** Counts one restart; safe to run twice (the operation and time identify it). */
export async function recordRestart(input: RecordRestartInput): Promise<void> {
  const marker = `${input.operationId}@${input.at}`;
  await (await centralDb()).upsertEntry(input.service, {}, (current) => {
    if (!current || current.lastRestartMarker === marker) return undefined;
    return {
      restartCount: current.restartCount + 1,
      restartStreak: input.streak,
      lastRestartAt: input.at,
      lastRestartMarker: marker,
      ...(input.outcome === 'failed' ? { status: 'failed' as const } : {}),
    };
  });
}

export async function markService(input: MarkServiceInput): Promise<void> {
  const db = await centralDb();
  if (!(await db.getEntry(input.service))) return;
  await db.upsertEntry(input.service, { status: input.status, updatedAt: input.at });
}
