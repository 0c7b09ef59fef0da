/** Activities on the registry and the event log: restart bookkeeping and audit events. */
import { centralDb } from '../deps.js';
import { placements } from '../platform/replicas.js';
import type { EventInput, MarkServiceInput, RecordRestartInput, RestartTarget, ServiceLocation } from './contracts.js';

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
 * Where `service` runs now: the VM and port the registry has it on (during a move the desired state
 * already names the target while the old side still serves), else the desired placement. The
 * watchdog follows a move or a changed spec with it.
 */
export async function locateService(input: { service: string }): Promise<ServiceLocation> {
  const db = await centralDb();
  const topology = await db.readTopology();
  const spec = topology?.services.find((s) => s.name === input.service);
  if (!topology || !spec) return { state: 'removed', reason: `"${input.service}" is not in the desired state` };
  const entry = await db.getEntry(input.service);
  const registered = entry && topology.vms.find((v) => v.name === entry.vm);
  const vm = registered ?? topology.vms.find((v) => v.name === spec.vm)!;
  const record = (await db.listVms()).find((v) => v.name === vm.name);
  if (!record?.publicIp || !record.privateIp) return { state: 'unknown', reason: `VM "${vm.name}" has no recorded address yet` };
  return {
    state: 'found',
    service: { name: spec.name, kind: spec.kind, port: registered ? entry.port : spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
    vm: { name: vm.name, host: record.publicIp, privateIp: record.privateIp, adminUser: vm.adminUser, sshKeySecret: vm.sshKeySecret },
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
