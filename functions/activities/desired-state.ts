/** Activities on the desired state in the central database. */
import { centralDb } from '../deps.js';
import type { DesiredStateOutput } from './contracts.js';
import type { VmSpec } from '../platform/topology.js';

export async function readDesiredState(): Promise<DesiredStateOutput> {
  const desired = await (await centralDb()).readDesired();
  if (!desired) throw new Error('the central database holds no topology: seed it with `bootstrap-cli deploy` first');
  return { topology: desired.topology, version: desired.version };
}

/** Adds a VM (idempotent: a VM already there with the same name is kept). */
export async function addVmToDesiredState(input: { vm: VmSpec }): Promise<DesiredStateOutput> {
  const db = await centralDb();
  const current = await db.readTopology();
  if (!current) throw new Error('the central database holds no topology: seed it with `bootstrap-cli deploy` first');
  if (!current.vms.some((vm) => vm.name === input.vm.name)) await db.addVm(input.vm);
  return readDesiredState();
}
