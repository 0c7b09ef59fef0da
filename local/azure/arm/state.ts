/** The emulator's in-memory state: resource groups, network resources and VMs, keyed case-insensitively. */
import { randomUUID } from 'node:crypto';
import type { AddressPool } from '../addresses.js';
import type { VmPowerHooks } from '../types.js';
import { ArmError } from './errors.js';
import { keyOf, resourceGroupId } from './ids.js';
import type { OperationRunner } from './operations.js';

export type JsonObject = Record<string, unknown>;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ResourceGroup {
  id: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  /** Succeeded, or Deleting while a delete runs. */
  provisioningState: string;
}

/** A network resource as stored: ARM shape with `properties`. */
export interface StoredResource {
  id: string;
  name: string;
  /** ARM type, e.g. Microsoft.Network/virtualNetworks. */
  type: string;
  location: string;
  tags?: Record<string, string>;
  sku?: JsonObject;
  properties: JsonObject;
  etag: string;
  sub: string;
  rg: string;
}

export type VmPowerState = 'creating' | 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';
export type VmProvisioningState = 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';

export interface VmRecord {
  id: string;
  name: string;
  sub: string;
  rg: string;
  location: string;
  tags?: Record<string, string>;
  vmId: string;
  timeCreated: string;
  /** The model as the client sent it (adminPassword never stored: such requests are refused). */
  properties: JsonObject;
  provisioningState: VmProvisioningState;
  power: VmPowerState;
  failure?: { code: string; message: string };
  /** The kind of the operation in progress, if any (a second operation meanwhile gets 409). */
  busy?: string;
  /** osProfile.customData as created (base64): kept for the VM's first boot, never returned. */
  customData?: string;
}

export class ArmState {
  readonly resourceGroups = new Map<string, ResourceGroup>();
  readonly resources = new Map<string, StoredResource>();
  readonly vms = new Map<string, VmRecord>();

  constructor(
    readonly pool: AddressPool,
    readonly hooks: VmPowerHooks,
    readonly ops: OperationRunner,
  ) {}

  resourceGroup(sub: string, rg: string): ResourceGroup | undefined {
    return this.resourceGroups.get(keyOf(sub, '', 'resourcegroups', rg));
  }

  requireResourceGroup(sub: string, rg: string): ResourceGroup {
    const group = this.resourceGroup(sub, rg);
    if (!group) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    return group;
  }

  putResourceGroup(sub: string, rg: string, location: string, tags?: Record<string, string>): { group: ResourceGroup; created: boolean } {
    const key = keyOf(sub, '', 'resourcegroups', rg);
    const existing = this.resourceGroups.get(key);
    if (existing && existing.location.toLowerCase() !== location.toLowerCase()) {
      throw new ArmError(
        409,
        'InvalidResourceGroupLocation',
        `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
      );
    }
    const group: ResourceGroup = {
      id: resourceGroupId(sub, existing?.name ?? rg),
      name: existing?.name ?? rg,
      location,
      tags,
      provisioningState: 'Succeeded',
    };
    this.resourceGroups.set(key, group);
    return { group, created: !existing };
  }

  deleteResourceGroupRecord(sub: string, rg: string): void {
    this.resourceGroups.delete(keyOf(sub, '', 'resourcegroups', rg));
  }

  getResource(sub: string, rg: string, type: string, name: string): StoredResource | undefined {
    return this.resources.get(keyOf(sub, rg, type, name));
  }

  setResource(resource: StoredResource): void {
    this.resources.set(keyOf(resource.sub, resource.rg, resource.type, resource.name), resource);
  }

  deleteResource(resource: StoredResource): void {
    this.resources.delete(keyOf(resource.sub, resource.rg, resource.type, resource.name));
  }

  /** Finds a stored network resource by its full id (case-insensitive). */
  resourceById(id: unknown): StoredResource | undefined {
    if (typeof id !== 'string') return undefined;
    const lower = id.toLowerCase();
    for (const resource of this.resources.values()) if (resource.id.toLowerCase() === lower) return resource;
    return undefined;
  }

  getVm(sub: string, rg: string, name: string): VmRecord | undefined {
    return this.vms.get(keyOf(sub, rg, 'virtualmachines', name));
  }

  setVm(vm: VmRecord): void {
    this.vms.set(keyOf(vm.sub, vm.rg, 'virtualmachines', vm.name), vm);
  }

  deleteVmRecord(vm: VmRecord): void {
    this.vms.delete(keyOf(vm.sub, vm.rg, 'virtualmachines', vm.name));
  }
}

export const newEtag = (): string => `W/"${randomUUID()}"`;

// Small JSON accessors: request bodies are untrusted `unknown`.
export const asObject = (value: unknown): JsonObject | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
export const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const asTags = (value: unknown): Record<string, string> | undefined => {
  const tags = asObject(value);
  if (!tags) return undefined;
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
};
