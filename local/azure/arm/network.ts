/**
 * Microsoft.Network resources of the emulator: virtual networks (+ subnets), network security
 * groups (+ security rules), public IP addresses and network interfaces. PUT and DELETE are
 * long-running operations; references between resources are checked like ARM checks them.
 *
 * Addresses: a public IP gets a public address from the AddressPool (keyed by resource group and
 * public IP name); a NIC's IP configuration gets a private (VNet) address of its own, kept while
 * the NIC exists. With the local VM network both are real addresses on the VM's interface.
 */
import { randomBytes } from 'node:crypto';
import { ArmError, invalid, notFound } from './errors.js';
import type { ResourceRef } from './ids.js';
import { resourceId } from './ids.js';
import type { OperationKind } from './kinds.js';
import { asArray, asObject, asString, asTags, newEtag, type ArmState, type JsonObject, type Reply, type StoredResource } from './state.js';

interface TypeInfo {
  type: string;
  segment: string;
  label: string;
  kind: OperationKind;
  build: (state: ArmState, ref: ResourceRef, body: JsonObject, id: string, existing?: StoredResource) => { properties: JsonObject; sku?: JsonObject };
}

interface ChildInfo {
  property: string;
  segment: string;
  kind: OperationKind;
  build: (state: ArmState, parent: StoredResource, name: string, body: JsonObject, id: string) => JsonObject;
}

const TYPES: Record<string, TypeInfo> = {
  virtualnetworks: { type: 'Microsoft.Network/virtualNetworks', segment: 'virtualNetworks', label: 'virtual network', kind: 'vnet.write', build: buildVnet },
  networksecuritygroups: {
    type: 'Microsoft.Network/networkSecurityGroups',
    segment: 'networkSecurityGroups',
    label: 'network security group',
    kind: 'nsg.write',
    build: buildNsg,
  },
  publicipaddresses: { type: 'Microsoft.Network/publicIPAddresses', segment: 'publicIPAddresses', label: 'public IP address', kind: 'publicIp.write', build: buildPublicIp },
  networkinterfaces: { type: 'Microsoft.Network/networkInterfaces', segment: 'networkInterfaces', label: 'network interface', kind: 'nic.write', build: buildNic },
};

const CHILDREN: Record<string, ChildInfo> = {
  'virtualnetworks/subnets': { property: 'subnets', segment: 'subnets', kind: 'subnet.write', build: (s, p, n, b, id) => buildSubnet(s, p, n, b, id) },
  'networksecuritygroups/securityrules': { property: 'securityRules', segment: 'securityRules', kind: 'nsg.write', build: (_s, _p, n, b, id) => buildRule(n, b, id) },
};

export function isNetworkRef(ref: ResourceRef): boolean {
  if (ref.namespace.toLowerCase() !== 'microsoft.network' || !TYPES[ref.type] || ref.action) return false;
  return !ref.childType || Boolean(CHILDREN[`${ref.type}/${ref.childType}`]);
}

export function networkKind(method: string, ref: ResourceRef): OperationKind {
  if (method === 'GET') return 'network.read';
  if (method === 'DELETE') return 'network.delete';
  if (method === 'PUT') return ref.childType ? CHILDREN[`${ref.type}/${ref.childType}`]!.kind : TYPES[ref.type]!.kind;
  return 'unsupported';
}

export async function handleNetwork(state: ArmState, method: string, ref: ResourceRef, body: JsonObject | undefined, query: URLSearchParams): Promise<Reply> {
  const info = TYPES[ref.type]!;
  state.requireResourceGroup(ref.sub, ref.rg);
  const resource = state.getResource(ref.sub, ref.rg, info.type, ref.name);
  if (ref.childType) return handleChild(state, method, ref, info, resource, body);
  switch (method) {
    case 'GET':
      if (!resource) throw notFound(info.type, ref.name, ref.rg);
      return { status: 200, body: view(state, resource, query.get('$expand') ?? undefined) };
    case 'PUT':
      return putResource(state, ref, info, resource, body);
    case 'DELETE':
      return deleteResource(state, ref, info, resource);
    default:
      throw new ArmError(405, 'MethodNotAllowed', `${method} is not supported on ${info.type} by this emulator.`);
  }
}

function putResource(state: ArmState, ref: ResourceRef, info: TypeInfo, existing: StoredResource | undefined, body: JsonObject | undefined): Reply {
  if (!body) throw invalid('body', 'The request body is required.', 'InvalidRequestContent');
  assertIdle(existing, info.label);
  const location = asString(body['location']);
  if (!location) throw invalid('location', `The ${info.label} '${ref.name}' needs a location.`, 'LocationRequired');
  const name = existing?.name ?? ref.name;
  const id = resourceId(ref.sub, ref.rg, 'Microsoft.Network', info.segment, name);
  const { properties, sku } = info.build(state, ref, body, id, existing);
  const resource: StoredResource = {
    id,
    name,
    type: info.type,
    location,
    tags: asTags(body['tags']),
    ...(sku ? { sku } : {}),
    properties: { ...properties, provisioningState: 'Updating' },
    etag: newEtag(),
    sub: ref.sub,
    rg: ref.rg,
  };
  state.setResource(resource);
  linkReferences(state, resource, existing);
  const op = state.ops.start({
    sub: ref.sub,
    namespace: 'Microsoft.Network',
    location,
    kind: info.kind,
    resourceName: name,
    work: async () => setProvisioning(resource, 'Succeeded'),
    onFailed: () => setProvisioning(resource, 'Failed'),
  });
  return { status: existing ? 200 : 201, body: view(state, resource), headers: state.ops.headers(op, false) };
}

function deleteResource(state: ArmState, ref: ResourceRef, info: TypeInfo, resource: StoredResource | undefined): Reply {
  if (!resource) return { status: 204 };
  assertIdle(resource, info.label);
  assertDeletable(state, resource);
  resource.properties['provisioningState'] = 'Deleting';
  const op = state.ops.start({
    sub: ref.sub,
    namespace: 'Microsoft.Network',
    location: resource.location,
    kind: 'network.delete',
    resourceName: resource.name,
    work: async () => removeNetworkResource(state, resource),
    onFailed: () => setProvisioning(resource, 'Succeeded'),
  });
  return { status: 202, headers: state.ops.headers(op, true) };
}

/** Removes a network resource and the back-references other resources hold to it. */
export function removeNetworkResource(state: ArmState, resource: StoredResource): void {
  state.deleteResource(resource);
  if (resource.type === TYPES['networkinterfaces']!.type) {
    for (const config of asArray(resource.properties['ipConfigurations'])) {
      const pip = state.resourceById(asObject(asObject(asObject(config)?.['properties'])?.['publicIPAddress'])?.['id']);
      if (pip) delete pip.properties['ipConfiguration'];
    }
  }
}

function handleChild(state: ArmState, method: string, ref: ResourceRef, info: TypeInfo, parent: StoredResource | undefined, body: JsonObject | undefined): Reply {
  const child = CHILDREN[`${ref.type}/${ref.childType}`]!;
  const childName = ref.childName!;
  if (!parent) throw notFound(info.type, ref.name, ref.rg);
  const list = asArray(parent.properties[child.property]).map((c) => asObject(c)!);
  const index = list.findIndex((c) => asString(c['name'])?.toLowerCase() === childName.toLowerCase());
  switch (method) {
    case 'GET':
      if (index < 0) throw notFound(`${info.type}/${child.segment}`, `${ref.name}/${childName}`, ref.rg);
      return { status: 200, body: list[index] };
    case 'PUT': {
      if (!body) throw invalid('body', 'The request body is required.', 'InvalidRequestContent');
      assertIdle(parent, info.label);
      const name = index >= 0 ? asString(list[index]!['name'])! : childName;
      const id = `${parent.id}/${child.segment}/${name}`;
      const built = child.build(state, parent, name, body, id);
      const item: JsonObject = { ...built, properties: { ...asObject(built['properties']), provisioningState: 'Updating' } };
      if (index >= 0) list[index] = item;
      else list.push(item);
      parent.properties[child.property] = list;
      parent.etag = newEtag();
      const op = state.ops.start({
        sub: ref.sub,
        namespace: 'Microsoft.Network',
        location: parent.location,
        kind: child.kind,
        resourceName: ref.name,
        work: async () => setProvisioning(parent, 'Succeeded'),
        onFailed: () => setProvisioning(parent, 'Failed'),
      });
      return { status: index >= 0 ? 200 : 201, body: item, headers: state.ops.headers(op, false) };
    }
    case 'DELETE': {
      if (index < 0) return { status: 204 };
      if (child.property === 'subnets') assertSubnetUnused(state, asString(list[index]!['id'])!);
      const op = state.ops.start({
        sub: ref.sub,
        namespace: 'Microsoft.Network',
        location: parent.location,
        kind: 'network.delete',
        resourceName: `${ref.name}/${childName}`,
        work: async () => {
          parent.properties[child.property] = asArray(parent.properties[child.property]).filter(
            (c) => asString(asObject(c)?.['name'])?.toLowerCase() !== childName.toLowerCase(),
          );
        },
        onFailed: () => undefined,
      });
      return { status: 202, headers: state.ops.headers(op, true) };
    }
    default:
      throw new ArmError(405, 'MethodNotAllowed', `${method} is not supported on ${child.segment} by this emulator.`);
  }
}

// ---- builders: validate a PUT body and produce the stored properties ----

function buildVnet(state: ArmState, ref: ResourceRef, body: JsonObject, id: string, existing?: StoredResource): { properties: JsonObject } {
  const props = asObject(body['properties']) ?? {};
  const prefixes = asArray(asObject(props['addressSpace'])?.['addressPrefixes']).filter((p): p is string => typeof p === 'string');
  if (prefixes.length === 0) throw invalid('properties.addressSpace.addressPrefixes', `Virtual network '${ref.name}' needs at least one address prefix.`);
  const subnets = asArray(props['subnets']).map((raw, i) => {
    const subnet = asObject(raw);
    const name = asString(subnet?.['name']);
    if (!subnet || !name) throw invalid(`properties.subnets[${i}].name`, 'Every subnet needs a name.');
    const built = buildSubnet(state, undefined, name, subnet, `${id}/subnets/${name}`);
    return { ...built, properties: { ...asObject(built['properties']), provisioningState: 'Updating' } };
  });
  // ARM semantics: a vnet PUT replaces the subnet list, so a subnet in use cannot vanish.
  for (const old of asArray(existing?.properties['subnets'])) {
    const oldId = asString(asObject(old)?.['id']);
    if (oldId && !subnets.some((s) => s.id.toLowerCase() === oldId.toLowerCase())) assertSubnetUnused(state, oldId);
  }
  return {
    properties: {
      ...echoed(props, ['flowTimeoutInMinutes', 'enableDdosProtection', 'dhcpOptions']),
      addressSpace: { addressPrefixes: prefixes },
      subnets,
      virtualNetworkPeerings: [],
      resourceGuid: existing?.properties['resourceGuid'] ?? randomHex(16),
    },
  };
}

function buildSubnet(state: ArmState, _parent: StoredResource | undefined, name: string, body: JsonObject, id: string): JsonObject & { id: string } {
  const props = asObject(body['properties']) ?? {};
  const prefix = asString(props['addressPrefix']);
  const prefixes = asArray(props['addressPrefixes']).filter((p): p is string => typeof p === 'string');
  if (!prefix && prefixes.length === 0) throw invalid('properties.addressPrefix', `Subnet '${name}' needs an address prefix.`);
  const nsgId = asObject(props['networkSecurityGroup'])?.['id'];
  if (nsgId !== undefined && !state.resourceById(nsgId)) throw invalidReference('properties.networkSecurityGroup.id', nsgId);
  return {
    id,
    name,
    type: 'Microsoft.Network/virtualNetworks/subnets',
    etag: newEtag(),
    properties: {
      ...(prefix ? { addressPrefix: prefix } : { addressPrefixes: prefixes }),
      ...(nsgId !== undefined ? { networkSecurityGroup: { id: nsgId } } : {}),
    },
  };
}

function buildNsg(_state: ArmState, _ref: ResourceRef, body: JsonObject, id: string): { properties: JsonObject } {
  const props = asObject(body['properties']) ?? {};
  const rules = asArray(props['securityRules']).map((raw, i) => {
    const rule = asObject(raw);
    const name = asString(rule?.['name']);
    if (!rule || !name) throw invalid(`properties.securityRules[${i}].name`, 'Every security rule needs a name.');
    const built = buildRule(name, rule, `${id}/securityRules/${name}`);
    return { ...built, properties: { ...asObject(built['properties']), provisioningState: 'Updating' } };
  });
  return { properties: { securityRules: rules, defaultSecurityRules: defaultSecurityRules(id), resourceGuid: randomHex(16) } };
}

function buildRule(name: string, body: JsonObject, id: string): JsonObject {
  const props = asObject(body['properties']) ?? {};
  const priority = props['priority'];
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
    throw invalid(`securityRules/${name}.priority`, `Security rule '${name}' needs an integer priority between 100 and 4096.`, 'SecurityRuleInvalidPriority');
  }
  for (const [field, allowed] of [
    ['direction', ['Inbound', 'Outbound']],
    ['access', ['Allow', 'Deny']],
    ['protocol', ['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*']],
  ] as const) {
    const value = asString(props[field]);
    if (!value || !(allowed as readonly string[]).includes(value)) {
      throw invalid(`securityRules/${name}.${field}`, `Security rule '${name}' needs ${field} one of ${allowed.join(', ')}.`);
    }
  }
  return { id, name, type: 'Microsoft.Network/networkSecurityGroups/securityRules', etag: newEtag(), properties: { ...props } };
}

function buildPublicIp(state: ArmState, ref: ResourceRef, body: JsonObject, _id: string, existing?: StoredResource): { properties: JsonObject; sku: JsonObject } {
  const props = asObject(body['properties']) ?? {};
  const skuName = asString(asObject(body['sku'])?.['name']) ?? 'Basic';
  const method = asString(props['publicIPAllocationMethod']) ?? 'Dynamic';
  if (skuName === 'Standard' && method !== 'Static') {
    throw invalid('properties.publicIPAllocationMethod', `Standard SKU public IP '${ref.name}' must use Static allocation.`, 'StandardSkuPublicIPAddressMustBeStatic');
  }
  const ipAddress = asString(existing?.properties['ipAddress']) ?? state.pool.allocatePublic(`${ref.rg.toLowerCase()}/${ref.name.toLowerCase()}`);
  return {
    sku: { name: skuName, tier: asString(asObject(body['sku'])?.['tier']) ?? 'Regional' },
    properties: {
      publicIPAllocationMethod: method,
      publicIPAddressVersion: asString(props['publicIPAddressVersion']) ?? 'IPv4',
      idleTimeoutInMinutes: typeof props['idleTimeoutInMinutes'] === 'number' ? props['idleTimeoutInMinutes'] : 4,
      ...(props['deleteOption'] !== undefined ? { deleteOption: props['deleteOption'] } : {}),
      ...(props['dnsSettings'] !== undefined ? { dnsSettings: props['dnsSettings'] } : {}),
      ipAddress,
      ...(existing?.properties['ipConfiguration'] ? { ipConfiguration: existing.properties['ipConfiguration'] } : {}),
      resourceGuid: existing?.properties['resourceGuid'] ?? randomHex(16),
    },
  };
}

function buildNic(state: ArmState, ref: ResourceRef, body: JsonObject, id: string, existing?: StoredResource): { properties: JsonObject } {
  const props = asObject(body['properties']) ?? {};
  const configs = asArray(props['ipConfigurations']);
  if (configs.length === 0) throw invalid('properties.ipConfigurations', `Network interface '${ref.name}' needs at least one IP configuration.`);
  const ipConfigurations = configs.map((raw, i) => {
    const config = asObject(raw);
    const name = asString(config?.['name']);
    if (!config || !name) throw invalid(`properties.ipConfigurations[${i}].name`, 'Every IP configuration needs a name.');
    const cprops = asObject(config['properties']) ?? {};
    const subnetId = asObject(cprops['subnet'])?.['id'];
    if (!findSubnet(state, subnetId)) throw invalidReference(`properties.ipConfigurations[${i}].properties.subnet.id`, subnetId);
    const pipId = asObject(cprops['publicIPAddress'])?.['id'];
    const configId = `${id}/ipConfigurations/${name}`;
    let privateIPAddress: string;
    if (pipId !== undefined) {
      const pip = state.resourceById(pipId);
      if (!pip || pip.type !== TYPES['publicipaddresses']!.type) throw invalidReference(`properties.ipConfigurations[${i}].properties.publicIPAddress.id`, pipId);
      const usedBy = asString(asObject(pip.properties['ipConfiguration'])?.['id']);
      if (usedBy && !usedBy.toLowerCase().startsWith(`${id.toLowerCase()}/`)) {
        throw new ArmError(400, 'PublicIPAddressInUse', `Public IP address ${pip.id} is already in use by ${usedBy}.`);
      }
    }
    {
      const existingConfig = asArray(existing?.properties['ipConfigurations']).map(asObject).find((c) => asString(c?.['name']) === name);
      privateIPAddress =
        asString(asObject(existingConfig?.['properties'])?.['privateIPAddress']) ??
        state.pool.allocatePrivate(`${ref.rg.toLowerCase()}/${ref.name.toLowerCase()}/${name.toLowerCase()}`);
    }
    return {
      id: configId,
      name,
      type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
      etag: newEtag(),
      properties: {
        privateIPAddress,
        privateIPAllocationMethod: asString(cprops['privateIPAllocationMethod']) ?? 'Dynamic',
        privateIPAddressVersion: 'IPv4',
        subnet: { id: subnetId },
        ...(pipId !== undefined ? { publicIPAddress: { id: pipId } } : {}),
        primary: typeof cprops['primary'] === 'boolean' ? cprops['primary'] : i === 0,
        provisioningState: 'Succeeded',
      },
    };
  });
  const nsgId = asObject(props['networkSecurityGroup'])?.['id'];
  if (nsgId !== undefined && !state.resourceById(nsgId)) throw invalidReference('properties.networkSecurityGroup.id', nsgId);
  return {
    properties: {
      ipConfigurations,
      ...(nsgId !== undefined ? { networkSecurityGroup: { id: nsgId } } : {}),
      ...(existing?.properties['virtualMachine'] ? { virtualMachine: existing.properties['virtualMachine'] } : {}),
      macAddress: asString(existing?.properties['macAddress']) ?? macAddress(),
      enableAcceleratedNetworking: props['enableAcceleratedNetworking'] === true,
      enableIPForwarding: props['enableIPForwarding'] === true,
      ...echoed(props, ['disableTcpStateTracking']),
      dnsSettings: { dnsServers: asArray(asObject(props['dnsSettings'])?.['dnsServers']), appliedDnsServers: [] },
      vnetEncryptionSupported: false,
      resourceGuid: existing?.properties['resourceGuid'] ?? randomHex(16),
    },
  };
}

/** After a NIC PUT, public IPs point back at the IP configuration that uses them (as in ARM). */
function linkReferences(state: ArmState, resource: StoredResource, existing: StoredResource | undefined): void {
  if (resource.type !== TYPES['networkinterfaces']!.type) return;
  if (existing) removeNetworkResourceLinks(state, existing);
  for (const raw of asArray(resource.properties['ipConfigurations'])) {
    const config = asObject(raw)!;
    const pip = state.resourceById(asObject(asObject(config['properties'])?.['publicIPAddress'])?.['id']);
    if (pip) pip.properties['ipConfiguration'] = { id: config['id'] };
  }
}

function removeNetworkResourceLinks(state: ArmState, nic: StoredResource): void {
  for (const raw of asArray(nic.properties['ipConfigurations'])) {
    const pip = state.resourceById(asObject(asObject(asObject(raw)?.['properties'])?.['publicIPAddress'])?.['id']);
    if (pip) delete pip.properties['ipConfiguration'];
  }
}

// ---- checks ----

function assertIdle(resource: StoredResource | undefined, label: string): void {
  const ps = resource?.properties['provisioningState'];
  if (ps === 'Updating' || ps === 'Deleting') {
    throw new ArmError(
      409,
      'AnotherOperationInProgress',
      `Another operation on the ${label} '${resource!.name}' is in progress (${String(ps)}). Retry when it has finished.`,
    );
  }
}

function assertDeletable(state: ArmState, resource: StoredResource): void {
  const props = resource.properties;
  switch (resource.type) {
    case TYPES['publicipaddresses']!.type: {
      const usedBy = asString(asObject(props['ipConfiguration'])?.['id']);
      if (usedBy) throw new ArmError(400, 'PublicIPAddressCannotBeDeleted', `Public IP address ${resource.id} can not be deleted since it is still allocated to resource ${usedBy}.`);
      return;
    }
    case TYPES['networkinterfaces']!.type: {
      const vm = asString(asObject(props['virtualMachine'])?.['id']);
      if (vm) throw new ArmError(400, 'NicInUse', `Network Interface ${resource.id} is used by existing resource ${vm}.`);
      return;
    }
    case TYPES['virtualnetworks']!.type:
      for (const subnet of asArray(props['subnets'])) assertSubnetUnused(state, asString(asObject(subnet)?.['id'])!);
      return;
    case TYPES['networksecuritygroups']!.type:
      for (const other of state.resources.values()) {
        if (JSON.stringify(other.properties).toLowerCase().includes(`"${resource.id.toLowerCase()}"`)) {
          throw new ArmError(400, 'InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${resource.id} cannot be deleted because it is in use by ${other.id}.`);
        }
      }
      return;
  }
}

function assertSubnetUnused(state: ArmState, subnetId: string): void {
  for (const nic of state.resources.values()) {
    if (nic.type !== TYPES['networkinterfaces']!.type) continue;
    for (const config of asArray(nic.properties['ipConfigurations'])) {
      const used = asString(asObject(asObject(asObject(config)?.['properties'])?.['subnet'])?.['id']);
      if (used?.toLowerCase() === subnetId.toLowerCase()) {
        throw new ArmError(400, 'InUseSubnetCannotBeDeleted', `Subnet ${subnetId} is in use by ${String(asObject(config)?.['id'])} and cannot be deleted.`);
      }
    }
  }
}

function findSubnet(state: ArmState, subnetId: unknown): JsonObject | undefined {
  if (typeof subnetId !== 'string') return undefined;
  const vnetId = subnetId.replace(/\/subnets\/[^/]+$/i, '');
  const vnet = state.resourceById(vnetId);
  return asArray(vnet?.properties['subnets'])
    .map((s) => asObject(s)!)
    .find((s) => asString(s['id'])?.toLowerCase() === subnetId.toLowerCase());
}

function invalidReference(target: string, id: unknown): ArmError {
  return new ArmError(400, 'InvalidResourceReference', `Resource ${String(id)} referenced by ${target} was not found.`, target);
}

function setProvisioning(resource: StoredResource, value: string): void {
  resource.properties['provisioningState'] = value;
  for (const property of ['subnets', 'securityRules']) {
    for (const child of asArray(resource.properties[property])) {
      const props = asObject(asObject(child)?.['properties']);
      if (props && props['provisioningState'] === 'Updating') props['provisioningState'] = value;
    }
  }
}

/** The resource as ARM returns it; `$expand=ipConfigurations/publicIPAddress` inlines public IPs of a NIC. */
function view(state: ArmState, resource: StoredResource, expand?: string): JsonObject {
  const out: JsonObject = {
    id: resource.id,
    name: resource.name,
    type: resource.type,
    location: resource.location,
    etag: resource.etag,
    ...(resource.tags ? { tags: resource.tags } : {}),
    ...(resource.sku ? { sku: resource.sku } : {}),
    properties: structuredClone(resource.properties),
  };
  if (expand && /publicipaddress/i.test(expand) && resource.type === TYPES['networkinterfaces']!.type) {
    for (const config of asArray(asObject(out['properties'])!['ipConfigurations'])) {
      const props = asObject(asObject(config)?.['properties'])!;
      const pip = state.resourceById(asObject(props['publicIPAddress'])?.['id']);
      if (pip) props['publicIPAddress'] = view(state, pip);
    }
  }
  return out;
}

/** The request's values of documented properties the emulator keeps as given (ARM stores and returns them). */
function echoed(props: JsonObject, names: string[]): JsonObject {
  return Object.fromEntries(names.filter((n) => props[n] !== undefined).map((n) => [n, structuredClone(props[n])]));
}

/** The six rules every NSG carries (NetworkSecurityGroupPropertiesFormat.defaultSecurityRules, read-only). */
function defaultSecurityRules(nsgId: string): JsonObject[] {
  const rule = (name: string, description: string, access: string, direction: string, priority: number, source: string, destination: string): JsonObject => ({
    id: `${nsgId}/defaultSecurityRules/${name}`,
    name,
    type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
    properties: {
      description,
      protocol: '*',
      sourcePortRange: '*',
      destinationPortRange: '*',
      sourceAddressPrefix: source,
      destinationAddressPrefix: destination,
      access,
      priority,
      direction,
      provisioningState: 'Succeeded',
    },
  });
  return [
    rule('AllowVnetInBound', 'Allow inbound traffic from all VMs in VNET', 'Allow', 'Inbound', 65000, 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowAzureLoadBalancerInBound', 'Allow inbound traffic from azure load balancer', 'Allow', 'Inbound', 65001, 'AzureLoadBalancer', '*'),
    rule('DenyAllInBound', 'Deny all inbound traffic', 'Deny', 'Inbound', 65500, '*', '*'),
    rule('AllowVnetOutBound', 'Allow outbound traffic from all VMs to all VMs in VNET', 'Allow', 'Outbound', 65000, 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowInternetOutBound', 'Allow outbound traffic from all VMs to Internet', 'Allow', 'Outbound', 65001, '*', 'Internet'),
    rule('DenyAllOutBound', 'Deny all outbound traffic', 'Deny', 'Outbound', 65500, '*', '*'),
  ];
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function macAddress(): string {
  return [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join('-');
}
