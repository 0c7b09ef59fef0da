/**
 * The actual state of a platform, read live: each VM from ARM (one read each), the LCM's containers
 * on each running VM (one `docker ps` over SSH each), and the code version of each service's folder
 * in the share. Only reads. The reconcile calls it as an activity; the dry run calls it directly.
 */
import { centralDb, codeShare, compute, withVm } from '../deps.js';
import { Guard } from '../platform/guard.js';
import { DNS_LABEL } from '../platform/topology.js';
import { LABELS, type ActualContainer, type ActualState, type ActualVm } from '../platform/reconcile-plan.js';
import type { DeregisterInput, ReadActualStateInput, StopContainerInput, StoppedContainer } from './contracts.js';
import { guardVmAccess } from '../platform/guard.js';

/** A replica's container name (platform/replicas.ts). */
const CONTAINER_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?(-r[0-9]{1,2})?$/;

export async function readActualState(input: ReadActualStateInput): Promise<ActualState> {
  const g = new Guard();
  (input?.vms ?? []).forEach((vm, i) => g.name(`vms[${i}].name`, vm?.name).user(`vms[${i}].adminUser`, vm?.adminUser).settingName(`vms[${i}].sshKeySecret`, vm?.sshKeySecret));
  (input?.sources ?? []).forEach((source, i) => g.sourcePath(`sources[${i}]`, source));
  g.done('readActualState');
  const arm = compute(input.azure.subscriptionId);
  const share = codeShare();
  const [vms, versions] = await Promise.all([
    Promise.all(
      input.vms.map(async (spec): Promise<{ vm: ActualVm; containers: ActualContainer[] }> => {
        const state = await arm.getVmState({ resourceGroup: input.azure.resourceGroup, name: spec.name });
        const running = state.exists && state.powerState === 'running' && !!state.publicIp && !!state.privateIp;
        const vm: ActualVm = { name: spec.name, exists: state.exists, running, powerState: state.powerState, publicIp: state.publicIp, privateIp: state.privateIp };
        if (!running) return { vm, containers: [] };
        try {
          const listed = await withVm({ name: spec.name, host: state.publicIp!, privateIp: state.privateIp!, adminUser: spec.adminUser, sshKeySecret: spec.sshKeySecret }, (docker) => docker.listLcmContainers());
          const containers = listed
            .filter((c) => CONTAINER_NAME.test(c.name) && DNS_LABEL.test(c.labels[LABELS.service] ?? ''))
            .map((c) => ({ vm: spec.name, container: c.name, service: c.labels[LABELS.service]!, running: c.running, labels: c.labels }));
          return { vm, containers };
        } catch (e) {
          // Docker not installed yet (a VM the boot never finished) reads as no container; anything else is unknown.
          const message = (e as Error).message.split('\n')[0]!;
          if (/docker: (command )?not found|command not found/.test(message)) return { vm, containers: [] };
          return { vm: { ...vm, unreadable: message.slice(0, 300) }, containers: [] };
        }
      }),
    ),
    Promise.all(
      [...new Set(input.sources)].map(async (source) => {
        try {
          return [source, await share.codeVersion(source)] as const;
        } catch {
          return undefined; // no such folder: the start will say so; the version is unknown here
        }
      }),
    ),
  ]);
  return {
    vms: vms.map((v) => v.vm),
    containers: vms.flatMap((v) => v.containers),
    versions: Object.fromEntries(versions.filter((v): v is readonly [string, string] => v !== undefined)),
  };
}

/** Stops and removes one container of the LCM (safe to run twice: an absent container is removed already). */
export async function stopContainer(input: StopContainerInput): Promise<StoppedContainer> {
  const g = guardVmAccess(new Guard(), input?.vm).name('service', input?.service);
  if (typeof input?.container !== 'string' || !CONTAINER_NAME.test(input.container)) g.issues.push({ path: 'container', message: 'must be a container name like <service> or <service>-r<n>' });
  g.done('stopContainer');
  const removed = await withVm(input.vm, async (docker) => {
    const state = await docker.containerState(input.container);
    if (!state.exists) return false;
    // Only a container the LCM started for this service: never one it does not own.
    if (state.labels?.[LABELS.service] !== input.service) {
      throw new Error(`container "${input.container}" on VM "${input.vm.name}" is not the LCM's container of "${input.service}"; left as it is`);
    }
    await docker.removeContainer(input.container);
    return true;
  });
  return { service: input.service, vm: input.vm.name, container: input.container, removed };
}

/** Takes one container out of the registry before it stops (drain). Safe to run twice. */
export async function deregisterInstance(input: DeregisterInput): Promise<void> {
  const g = new Guard().name('service', input?.service).name('vm', input?.vm);
  if (typeof input?.container !== 'string' || !CONTAINER_NAME.test(input.container)) g.issues.push({ path: 'container', message: 'must be a container name' });
  g.done('deregisterInstance');
  await (await centralDb()).deregisterInstance(input.service, input.vm, input.container, { at: input.at });
}
