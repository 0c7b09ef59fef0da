/** Activities on VMs through ARM: ensure one runs, restart one, record what is known of it. */
import { centralDb, compute, vmHostKeyCustomData, vmPublicKey } from '../deps.js';
import { ArmOperationError } from '../cloud/compute.js';
import { Guard } from '../platform/guard.js';
import type { ArmTarget, EnsureVmInput, RegisterVmInput, RetryAfter, VmInfo } from './contracts.js';

/** Names that become ARM resource names and the VM's admin account: re-checked here, whoever called. */
function guardVmSpec(what: string, input: EnsureVmInput): void {
  const g = new Guard().name('vm.name', input?.vm?.name).user('vm.adminUser', input?.vm?.adminUser).settingName('vm.sshKeySecret', input?.vm?.sshKeySecret);
  (input?.inboundPorts ?? []).forEach((port, i) => g.port(`inboundPorts[${i}]`, port));
  g.done(what);
}

/** A throttled ARM call with a long Retry-After becomes a RetryAfter result for the orchestration. */
async function orRetryAfter<T>(work: () => Promise<T>): Promise<T | RetryAfter> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ArmOperationError && err.retryAfterSeconds !== undefined) {
      return { retryAfter: { seconds: err.retryAfterSeconds, reason: err.message } };
    }
    throw err;
  }
}

export async function ensureVm(input: EnsureVmInput): Promise<VmInfo | RetryAfter> {
  guardVmSpec('ensureVm', input);
  return orRetryAfter(() => ensureVmNow(input));
}

async function ensureVmNow(input: EnsureVmInput): Promise<VmInfo> {
  const { azure, vm } = input;
  const adapter = compute(azure.subscriptionId);
  const result = await adapter.ensureVm({
    resourceGroup: azure.resourceGroup,
    location: azure.location,
    vm,
    publicKey: vmPublicKey(vm.sshKeySecret),
    inboundPorts: input.inboundPorts,
    customData: (o) => vmHostKeyCustomData(vm.name, o),
  });
  return {
    name: vm.name,
    publicIp: result.publicIp,
    privateIp: result.privateIp,
    powerState: result.powerState,
    created: result.created,
    started: result.started,
  };
}

export async function restartVm(input: EnsureVmInput): Promise<VmInfo | RetryAfter> {
  guardVmSpec('restartVm', input);
  return orRetryAfter(() => restartVmNow(input));
}

async function restartVmNow(input: EnsureVmInput): Promise<VmInfo> {
  const { azure, vm } = input;
  const adapter = compute(azure.subscriptionId);
  await adapter.restartVm({ resourceGroup: azure.resourceGroup, name: vm.name });
  const state = await adapter.getVmState({ resourceGroup: azure.resourceGroup, name: vm.name });
  if (!state.exists || !state.publicIp || !state.privateIp) {
    throw new Error(`VM "${vm.name}": restarted but its address cannot be read; check it in the portal`);
  }
  return { name: vm.name, publicIp: state.publicIp, privateIp: state.privateIp, powerState: state.powerState, created: false, started: true };
}

/** The resource group the VMs live in: one read when it exists. */
export async function ensureResourceGroup(input: { azure: ArmTarget }): Promise<{ created: boolean }> {
  const { azure } = input;
  return compute(azure.subscriptionId).ensureResourceGroup({ resourceGroup: azure.resourceGroup, location: azure.location, tags: { 'managed-by': 'lcm' } });
}

export async function registerVm(input: RegisterVmInput): Promise<void> {
  await (await centralDb()).upsertVm({
    name: input.vm.name,
    publicIp: input.vm.publicIp,
    privateIp: input.vm.privateIp,
    powerState: input.vm.powerState,
    dockerReady: input.dockerReady,
    updatedAt: input.at,
  });
}
