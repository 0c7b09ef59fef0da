/**
 * Microsoft.Compute/virtualMachines: the model (validated like ARM, SSH keys only) and a power-state
 * machine driven by long-running operations:
 *
 *   create:     creating -> running                (hooks.powerOn)
 *   start:      stopped|deallocated -> starting -> running            (hooks.powerOn)
 *   powerOff:   running -> stopping -> stopped                        (hooks.powerOff 'stop')
 *   deallocate: running|stopped -> deallocating -> deallocated        (hooks.powerOff 'deallocate' if it was running)
 *   restart:    running -> stopping -> starting -> running            (hooks.powerOff 'restart', then powerOn)
 *   delete:     any -> gone                                           (hooks.powerOff 'delete', always)
 *
 * Hooks run before the new state is reported. A hook that throws ends the operation Failed
 * (VMPowerOnFailed / VMPowerOffFailed) and the VM keeps its previous power state. start on a running VM,
 * powerOff on a stopped one and deallocate on a deallocated one succeed without calling hooks.
 * A second operation while one runs gets 409 OperationNotAllowed.
 */
import { rulesForPowerOn } from './nsg-rules.js';
import { randomUUID } from 'node:crypto';
import { isReservedAdminName, sshPublicKeyProblem } from '../../../functions/platform/vm-rules.js';
import type { PowerOffReason } from '../types.js';
import { ArmError, invalid, notFound } from './errors.js';
import type { ResourceRef } from './ids.js';
import { resourceId } from './ids.js';
import type { OperationKind } from './kinds.js';
import { removeNetworkResource } from './network.js';
import { asArray, asObject, asString, asTags, type ArmState, type JsonObject, type Reply, type VmPowerState, type VmRecord } from './state.js';

const VM_TYPE = 'Microsoft.Compute/virtualMachines';
const SSH_KEY = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const ACTIONS: Record<string, OperationKind> = {
  start: 'vm.start',
  restart: 'vm.restart',
  poweroff: 'vm.powerOff',
  deallocate: 'vm.deallocate',
};

export function isVmRef(ref: ResourceRef): boolean {
  if (ref.namespace.toLowerCase() !== 'microsoft.compute' || ref.type !== 'virtualmachines' || ref.childType) return false;
  return !ref.action || ref.action === 'instanceview' || Boolean(ACTIONS[ref.action]);
}

export function vmKind(state: ArmState, method: string, ref: ResourceRef): OperationKind {
  if (method === 'GET') return 'vm.read';
  if (method === 'DELETE' && !ref.action) return 'vm.delete';
  if (method === 'PUT' && !ref.action) {
    // A PUT on a VM that exists is an update, Failed or not (ARM does not re-create it).
    return state.getVm(ref.sub, ref.rg, ref.name) ? 'vm.update' : 'vm.create';
  }
  if (method === 'POST' && ref.action && ACTIONS[ref.action]) return ACTIONS[ref.action]!;
  return 'unsupported';
}

export async function handleVm(state: ArmState, method: string, ref: ResourceRef, body: JsonObject | undefined, query: URLSearchParams): Promise<Reply> {
  state.requireResourceGroup(ref.sub, ref.rg);
  const vm = state.getVm(ref.sub, ref.rg, ref.name);
  if (method === 'GET') {
    if (!vm) throw notFound(VM_TYPE, ref.name, ref.rg);
    if (ref.action === 'instanceview') return { status: 200, body: instanceView(vm) };
    const expand = query.get('$expand') ?? '';
    return { status: 200, body: vmView(vm, /instanceview/i.test(expand)) };
  }
  if (method === 'PUT' && !ref.action) return putVm(state, ref, vm, body);
  if (method === 'DELETE' && !ref.action) return deleteVm(state, vm);
  if (method === 'POST' && ref.action && ACTIONS[ref.action]) {
    if (!vm) throw notFound(VM_TYPE, ref.name, ref.rg);
    return powerAction(state, vm, ref.action);
  }
  throw new ArmError(405, 'MethodNotAllowed', `${method} is not supported on ${VM_TYPE} by this emulator.`);
}

function putVm(state: ArmState, ref: ResourceRef, existing: VmRecord | undefined, body: JsonObject | undefined): Reply {
  if (!body) throw invalid('body', 'The request body is required.', 'InvalidRequestContent');
  assertIdle(existing, 'createOrUpdate');
  const location = asString(body['location']);
  if (!location) throw invalid('location', `Virtual machine '${ref.name}' needs a location.`, 'LocationRequired');
  const properties = validateModel(state, ref, asObject(body['properties']), existing);
  const customData = validateCustomData(asObject(asObject(body['properties'])?.['osProfile'])?.['customData'], existing);
  const id = resourceId(ref.sub, ref.rg, 'Microsoft.Compute', 'virtualMachines', existing?.name ?? ref.name);

  if (existing) {
    // Update: the OS profile stays as created (ARM refuses to change it). A Failed VM is updated in
    // place too: it ends Succeeded in the power state it had (a VM whose create failed stays
    // deallocated until it is started).
    existing.properties = { ...properties, osProfile: existing.properties['osProfile'] };
    existing.tags = asTags(body['tags']);
    existing.provisioningState = 'Updating';
    delete existing.failure;
    const op = startVmOperation(state, existing, 'vm.update', async () => undefined, existing.power);
    return { status: 200, body: vmView(existing, false), headers: state.ops.headers(op, false) };
  }

  const vm: VmRecord = existing ?? {
    id,
    name: ref.name,
    sub: ref.sub,
    rg: ref.rg,
    location,
    vmId: randomUUID(),
    timeCreated: new Date().toISOString(),
    properties,
    provisioningState: 'Creating',
    power: 'creating',
  };
  vm.location = location;
  vm.tags = asTags(body['tags']);
  vm.properties = properties;
  if (customData !== undefined) vm.customData = customData;
  vm.provisioningState = 'Creating';
  vm.power = 'creating';
  delete vm.failure;
  state.setVm(vm);
  for (const nic of attachedNics(state, vm)) nic.properties['virtualMachine'] = { id: vm.id };
  const op = startVmOperation(
    state,
    vm,
    'vm.create',
    async () => {
      await powerOn(state, vm);
      vm.power = 'running';
    },
    'deallocated',
  );
  // The spec (2026-03-01) declares Location and Retry-After on the 201 of a create.
  return { status: existing ? 200 : 201, body: vmView(vm, false), headers: state.ops.headers(op, !existing) };
}

function powerAction(state: ArmState, vm: VmRecord, action: string): Reply {
  assertIdle(vm, action);
  const kind = ACTIONS[action]!;
  const before = vm.power;
  let work: () => Promise<void>;
  switch (kind) {
    case 'vm.start':
      if (before === 'running') work = async () => undefined;
      else {
        vm.power = 'starting';
        work = async () => {
          await powerOn(state, vm);
          vm.power = 'running';
        };
      }
      break;
    case 'vm.powerOff':
      if (before !== 'running') work = async () => undefined;
      else {
        vm.power = 'stopping';
        work = async () => {
          await powerOff(state, vm, 'stop');
          vm.power = 'stopped';
        };
      }
      break;
    case 'vm.deallocate':
      if (before === 'deallocated') work = async () => undefined;
      else {
        vm.power = 'deallocating';
        work = async () => {
          if (before === 'running') await powerOff(state, vm, 'deallocate');
          vm.power = 'deallocated';
        };
      }
      break;
    case 'vm.restart':
      if (before !== 'running') {
        throw new ArmError(409, 'OperationNotAllowed', `Operation 'restart' is not allowed on VM '${vm.name}' since the VM is ${before}. Start it instead.`);
      }
      vm.power = 'stopping';
      work = async () => {
        await powerOff(state, vm, 'restart');
        vm.power = 'starting';
        await powerOn(state, vm);
        vm.power = 'running';
      };
      break;
    default:
      throw new ArmError(400, 'InvalidParameter', `Unknown action ${action}.`);
  }
  vm.provisioningState = 'Updating';
  const op = startVmOperation(state, vm, kind, work, before);
  return { status: 202, headers: state.ops.headers(op, true) };
}

function deleteVm(state: ArmState, vm: VmRecord | undefined): Reply {
  if (!vm) return { status: 204 };
  assertIdle(vm, 'delete');
  const before = vm.power;
  vm.provisioningState = 'Deleting';
  vm.busy = 'vm.delete';
  const op = state.ops.start({
    sub: vm.sub,
    namespace: 'Microsoft.Compute',
    location: vm.location,
    kind: 'vm.delete',
    resourceName: vm.name,
    work: async () => {
      try {
        await powerOff(state, vm, 'delete');
        removeVm(state, vm);
      } finally {
        vm.busy = undefined;
      }
    },
    onFailed: (error) => {
      vm.busy = undefined;
      vm.power = before;
      vm.provisioningState = 'Failed';
      vm.failure = error;
    },
  });
  return { status: 202, headers: state.ops.headers(op, true) };
}

/** Removes the VM and applies deleteOption to its NICs (and theirs to public IPs), as ARM does. */
export function removeVm(state: ArmState, vm: VmRecord): void {
  state.deleteVmRecord(vm);
  for (const ref of asArray(asObject(vm.properties['networkProfile'])?.['networkInterfaces'])) {
    const nicRef = asObject(ref);
    const nic = state.resourceById(nicRef?.['id']);
    if (!nic) continue;
    delete nic.properties['virtualMachine'];
    const deleteOption = asString(asObject(nicRef?.['properties'])?.['deleteOption']) ?? asString(nicRef?.['deleteOption']);
    if (deleteOption !== 'Delete') continue;
    const pips = asArray(nic.properties['ipConfigurations'])
      .map((c) => state.resourceById(asObject(asObject(asObject(c)?.['properties'])?.['publicIPAddress'])?.['id']))
      .filter((p) => p !== undefined);
    removeNetworkResource(state, nic);
    for (const pip of pips) if (pip.properties['deleteOption'] === 'Delete') removeNetworkResource(state, pip);
  }
}

function startVmOperation(state: ArmState, vm: VmRecord, kind: OperationKind, work: () => Promise<void>, powerOnFailure: VmPowerState) {
  vm.busy = kind;
  return state.ops.start({
    sub: vm.sub,
    namespace: 'Microsoft.Compute',
    location: vm.location,
    kind,
    resourceName: vm.name,
    work: async () => {
      try {
        await work();
        vm.provisioningState = 'Succeeded';
        delete vm.failure;
      } finally {
        vm.busy = undefined;
      }
    },
    onFailed: (error) => {
      vm.busy = undefined;
      vm.provisioningState = 'Failed';
      vm.failure = error;
      vm.power = powerOnFailure;
    },
  });
}

async function powerOn(state: ArmState, vm: VmRecord): Promise<void> {
  const os = asObject(vm.properties['osProfile'])!;
  const ip = vmAddress(state, vm);
  const privateIp = vmPrivateAddress(state, vm);
  if (!ip || !privateIp) throw new ArmError(500, 'VMPowerOnFailed', `VM "${vm.name}" has no network interface with an address.`);
  try {
    await state.hooks.powerOn({ name: vm.name, ip, privateIp, adminUser: asString(os['adminUsername'])!, publicKeys: publicKeys(vm), ...(vm.customData !== undefined ? { customData: vm.customData } : {}), inboundRules: rulesForPowerOn(state, vm) });
  } catch (err) {
    throw new ArmError(500, 'VMPowerOnFailed', `VM "${vm.name}" could not be powered on by the local VM fleet: ${errorMessage(err)}`);
  }
}

async function powerOff(state: ArmState, vm: VmRecord, reason: PowerOffReason): Promise<void> {
  try {
    await state.hooks.powerOff(vm.name, reason);
  } catch (err) {
    throw new ArmError(500, 'VMPowerOffFailed', `VM "${vm.name}" could not be powered off (${reason}) by the local VM fleet: ${errorMessage(err)}`);
  }
}

/** The address the fleet serves the VM on: its primary NIC's public IP, else its private IP. */
export function vmAddress(state: ArmState, vm: VmRecord): string | undefined {
  const nics = attachedNics(state, vm);
  for (const nic of nics) {
    for (const config of asArray(nic.properties['ipConfigurations'])) {
      const props = asObject(asObject(config)?.['properties']) ?? {};
      const pip = state.resourceById(asObject(props['publicIPAddress'])?.['id']);
      const address = asString(pip?.properties['ipAddress']) ?? asString(props['privateIPAddress']);
      if (address) return address;
    }
  }
  return undefined;
}

/** The primary NIC's private (VNet) address. */
export function vmPrivateAddress(state: ArmState, vm: VmRecord): string | undefined {
  for (const nic of attachedNics(state, vm)) {
    for (const config of asArray(nic.properties['ipConfigurations'])) {
      const address = asString(asObject(asObject(config)?.['properties'])?.['privateIPAddress']);
      if (address) return address;
    }
  }
  return undefined;
}

export function publicKeys(vm: VmRecord): string[] {
  const ssh = asObject(asObject(asObject(vm.properties['osProfile'])?.['linuxConfiguration'])?.['ssh']);
  return asArray(ssh?.['publicKeys']).map((k) => asString(asObject(k)?.['keyData'])!);
}

function attachedNics(state: ArmState, vm: VmRecord) {
  const refs = asArray(asObject(vm.properties['networkProfile'])?.['networkInterfaces']).map((r) => asObject(r)!);
  // The primary NIC first.
  refs.sort((a, b) => Number(isPrimary(b)) - Number(isPrimary(a)));
  return refs.map((r) => state.resourceById(r['id'])).filter((n) => n !== undefined);
}

const isPrimary = (ref: JsonObject): boolean => asObject(ref['properties'])?.['primary'] === true || ref['primary'] === true;

function validateModel(state: ArmState, ref: ResourceRef, props: JsonObject | undefined, existing: VmRecord | undefined): JsonObject {
  if (!props) throw invalid('properties', `Virtual machine '${ref.name}' needs properties.`);
  const size = asString(asObject(props['hardwareProfile'])?.['vmSize']);
  if (!size) throw invalid('hardwareProfile.vmSize', `Virtual machine '${ref.name}' needs hardwareProfile.vmSize.`);
  if (!asObject(asObject(props['storageProfile'])?.['imageReference'])) {
    throw invalid('storageProfile.imageReference', `Virtual machine '${ref.name}' needs storageProfile.imageReference (this emulator creates VMs from images only).`);
  }
  const os = asObject(props['osProfile']);
  if (!os) throw invalid('osProfile', `Virtual machine '${ref.name}' needs an osProfile.`);
  if (os['adminPassword'] !== undefined) {
    // The value is never echoed or stored.
    throw invalid('adminPassword', `Password authentication is refused: VM '${ref.name}' must use SSH public keys only (remove osProfile.adminPassword).`);
  }
  const user = asString(os['adminUsername']);
  if (!user || !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw invalid('adminUsername', `Virtual machine '${ref.name}' needs a valid osProfile.adminUsername.`);
  if (isReservedAdminName(user)) throw invalid('adminUsername', 'The Admin Username specified is not allowed.');
  const linux = asObject(os['linuxConfiguration']);
  if (linux?.['disablePasswordAuthentication'] !== true) {
    throw invalid('linuxConfiguration.disablePasswordAuthentication', `VM '${ref.name}': linuxConfiguration.disablePasswordAuthentication must be true (SSH keys only).`);
  }
  const keys = asArray(asObject(linux['ssh'])?.['publicKeys']);
  if (keys.length === 0) throw invalid('linuxConfiguration.ssh.publicKeys', `VM '${ref.name}' needs at least one SSH public key.`);
  for (const raw of keys) {
    const key = asObject(raw);
    const data = asString(key?.['keyData'])?.trim();
    if (!data || !SSH_KEY.test(data) || sshPublicKeyProblem(data)) {
      throw invalid('linuxConfiguration.ssh.publicKeys.keyData', 'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.');
    }
    const path = `/home/${user}/.ssh/authorized_keys`;
    if (asString(key!['path']) !== path) {
      throw invalid('linuxConfiguration.ssh.publicKeys.path', `Destination path for SSH public keys is currently limited to its default value ${path} due to a known issue in Linux provisioning agent.`);
    }
  }
  if (existing && existing.provisioningState !== 'Failed') {
    const before = asObject(existing.properties['osProfile'])!;
    if (before['adminUsername'] !== user || JSON.stringify(publicKeys(existing)) !== JSON.stringify(keys.map((k) => asString(asObject(k)?.['keyData'])?.trim()))) {
      throw new ArmError(409, 'PropertyChangeNotAllowed', "Changing property 'osProfile' is not allowed.", 'osProfile');
    }
  }
  const nicRefs = asArray(asObject(props['networkProfile'])?.['networkInterfaces']);
  if (nicRefs.length === 0) throw invalid('networkProfile.networkInterfaces', `Virtual machine '${ref.name}' needs at least one network interface.`);
  const vmId = resourceId(ref.sub, ref.rg, 'Microsoft.Compute', 'virtualMachines', ref.name).toLowerCase();
  for (const raw of nicRefs) {
    const nicId = asObject(raw)?.['id'];
    const nic = state.resourceById(nicId);
    if (!nic || nic.type !== 'Microsoft.Network/networkInterfaces') {
      throw new ArmError(400, 'InvalidResourceReference', `Network interface ${String(nicId)} referenced by VM '${ref.name}' was not found.`, 'networkProfile.networkInterfaces');
    }
    const owner = asString(asObject(nic.properties['virtualMachine'])?.['id']);
    if (owner && owner.toLowerCase() !== vmId) throw new ArmError(400, 'NicInUse', `Network Interface ${nic.id} is used by existing resource ${owner}.`);
  }
  const model: JsonObject = structuredClone(props);
  const modelOs = asObject(model['osProfile'])!;
  delete modelOs['customData']; // may hold secrets; ARM never returns it either
  modelOs['computerName'] = asString(os['computerName']) ?? ref.name;
  for (const k of asArray(asObject(asObject(modelOs['linuxConfiguration'])?.['ssh'])?.['publicKeys'])) {
    const key = asObject(k)!;
    key['keyData'] = asString(key['keyData'])!.trim();
  }
  delete model['provisioningState'];
  delete model['instanceView'];
  return model;
}

/**
 * osProfile.customData as ARM takes it: base64 of at most 64 KB (87380 characters), set at
 * creation only. Never echoed (it may hold secrets), never returned.
 */
function validateCustomData(raw: unknown, existing: VmRecord | undefined): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = typeof raw === 'string' ? raw : undefined;
  if (text === undefined || text.length > 87_380 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw invalid('customData', 'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.');
  }
  if (existing && (existing.customData ?? '') !== text) {
    throw new ArmError(409, 'PropertyChangeNotAllowed', "Changing property 'customData' is not allowed.", 'customData');
  }
  return text;
}

function assertIdle(vm: VmRecord | undefined, operation: string): void {
  if (vm?.busy) {
    throw new ArmError(409, 'OperationNotAllowed', `Operation '${operation}' is not allowed on VM '${vm.name}' since another operation (${vm.busy}) is in progress. Retry when it has finished.`);
  }
}

function vmView(vm: VmRecord, withInstanceView: boolean): JsonObject {
  return {
    id: vm.id,
    name: vm.name,
    type: VM_TYPE,
    location: vm.location,
    ...(vm.tags ? { tags: vm.tags } : {}),
    properties: {
      ...structuredClone(vm.properties),
      vmId: vm.vmId,
      timeCreated: vm.timeCreated,
      provisioningState: vm.provisioningState,
      ...(withInstanceView ? { instanceView: instanceView(vm) } : {}),
    },
  };
}

const POWER_DISPLAY: Record<VmPowerState, string | undefined> = {
  creating: undefined, // ARM reports no PowerState while a VM is being created
  starting: 'VM starting',
  running: 'VM running',
  stopping: 'VM stopping',
  stopped: 'VM stopped',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated',
};

function instanceView(vm: VmRecord): JsonObject {
  const now = new Date().toISOString();
  const statuses: JsonObject[] = [];
  if (vm.provisioningState === 'Failed') {
    statuses.push({
      code: `ProvisioningState/failed/${vm.failure?.code ?? 'InternalError'}`,
      level: 'Error',
      displayStatus: 'Provisioning failed',
      message: vm.failure?.message,
      time: now,
    });
  } else {
    const lower = vm.provisioningState.toLowerCase();
    statuses.push({ code: `ProvisioningState/${lower}`, level: 'Info', displayStatus: `Provisioning ${lower}`, time: now });
  }
  const display = POWER_DISPLAY[vm.power];
  if (display) statuses.push({ code: `PowerState/${vm.power}`, level: 'Info', displayStatus: display });
  const os = asObject(vm.properties['osProfile']);
  return { computerName: asString(os?.['computerName']) ?? vm.name, osName: 'ubuntu', osVersion: '22.04', statuses };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
