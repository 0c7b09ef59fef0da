/**
 * The network a VM needs before it can be created, ensured step by step over @azure/arm-network.
 *
 * Naming (derived, so every step is idempotent and needs no stored state):
 *   virtual network  `<resourceGroup>-vnet` (shared by every VM of the resource group, so services
 *                    on different VMs reach each other on private addresses), address space
 *                    10.42.0.0/16, subnet `default` 10.42.0.0/24
 *   NSG              `<vm>-nsg` with inbound rules `allow-ssh` (TCP 22) and `allow-tcp-<port>` for
 *                    each of `inboundPorts` (the Kafka broker), both from `sshSourcePrefix`, default
 *                    the `VirtualNetwork` service tag: nothing is open to the internet; the function
 *                    app reaches the VMs through its VNet integration on their private addresses
 *   public IP        `<vm>-ip` (Standard SKU, Static, deleteOption Delete)
 *   NIC              `<vm>-nic` (subnet + public IP + NSG)
 * Each resource is read first and written only when missing (or Failed), so a re-run makes no writes.
 */
import type { NetworkManagementClient, NetworkInterface } from '@azure/arm-network';

export interface NetworkSettings {
  /** Default `<resourceGroup>-vnet`. */
  vnetName?: string;
  /** Default `default`. */
  subnetName?: string;
  /** Default 10.42.0.0/16. */
  addressPrefix?: string;
  /** Default 10.42.0.0/24. */
  subnetPrefix?: string;
  /** Who may reach SSH and the broker: default the VirtualNetwork service tag (never the internet). */
  sshSourcePrefix?: string;
}

/** The service tag for the virtual network (and peered ones): the only source the NSG rules allow. */
export const VNET_ONLY = 'VirtualNetwork';

export interface VmNetworkNames {
  vnet: string;
  subnet: string;
  nsg: string;
  publicIp: string;
  nic: string;
}

export function vmNetworkNames(resourceGroup: string, vmName: string, settings: NetworkSettings = {}): VmNetworkNames {
  // Virtual network names allow letters, digits, '-', '_', '.' (at most 64 characters).
  const base = resourceGroup.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 59);
  return {
    vnet: settings.vnetName ?? `${base}-vnet`,
    subnet: settings.subnetName ?? 'default',
    nsg: `${vmName}-nsg`,
    publicIp: `${vmName}-ip`,
    nic: `${vmName}-nic`,
  };
}

/** What network.ts needs from the adapter: reads (404 = undefined), bounded writes, waiting, single-flight. */
export interface ArmCaller {
  read<T>(step: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** `begin` sends the initial request (under the write bound); the poller is then awaited outside it. */
  write<T>(step: string, begin: () => Promise<{ pollUntilDone(): Promise<T> }>): Promise<T>;
  /** Runs `fn` once per key at a time within this adapter (a shared vnet is written once, not per VM). */
  once<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Waits between reads of a resource another operation is still changing; throws past the deadline. */
  settle(step: string): Promise<void>;
  /** The error code of an ArmOperationError-like error, if any. */
  codeOf(err: unknown): string | undefined;
  /** Another operation holds the resource (409, Network's 429 RetryableError, OperationPreempted): re-read and retry. */
  isBusy(err: unknown): boolean;
}

export interface EnsureVmNetworkInput {
  resourceGroup: string;
  location: string;
  vmName: string;
  tags: Record<string, string>;
  settings: NetworkSettings;
  pollIntervalInMs: number;
  /** TCP ports opened to the VNet besides SSH (e.g. the Kafka broker the function app calls). */
  inboundPorts?: number[];
}

export interface VmNetwork {
  nicId: string;
  publicIp: string;
  privateIp: string;
}

interface Provisioned {
  provisioningState?: string;
}

const BUSY = new Set(['Updating', 'Deleting', 'Creating']);

/**
 * Reads the resource; writes it only when it is missing or Failed; waits while another operation
 * changes it (including a concurrent writer answered 409 AnotherOperationInProgress).
 */
async function ensure<T extends Provisioned>(call: ArmCaller, step: string, get: () => Promise<T>, put: () => Promise<{ pollUntilDone(): Promise<T> }>): Promise<T> {
  for (;;) {
    const existing = await call.read(step, get);
    if (existing && !BUSY.has(existing.provisioningState ?? '') && existing.provisioningState !== 'Failed') return existing;
    if (existing && BUSY.has(existing.provisioningState ?? '')) {
      await call.settle(step);
      continue;
    }
    try {
      return await call.write(step, put);
    } catch (err) {
      if (!call.isBusy(err)) throw err;
      await call.settle(step);
    }
  }
}

export async function ensureVmNetwork(network: NetworkManagementClient, call: ArmCaller, input: EnsureVmNetworkInput): Promise<VmNetwork> {
  const { resourceGroup: rg, location, settings } = input;
  const names = vmNetworkNames(rg, input.vmName, settings);
  const lro = { updateIntervalInMs: input.pollIntervalInMs };
  const sharedTags = Object.fromEntries(Object.entries(input.tags).filter(([k]) => k !== 'lcm-vm'));
  const addressPrefix = settings.addressPrefix ?? '10.42.0.0/16';
  const subnetPrefix = settings.subnetPrefix ?? '10.42.0.0/24';

  const subnetId = call.once(`${rg}/${names.vnet}`.toLowerCase(), async () => {
    const vnetStep = `virtual network "${names.vnet}"`;
    const vnet = await ensure(
      call,
      vnetStep,
      () => network.virtualNetworks.get(rg, names.vnet),
      () =>
        network.virtualNetworks.beginCreateOrUpdate(
          rg,
          names.vnet,
          { location, tags: sharedTags, addressSpace: { addressPrefixes: [addressPrefix] }, subnets: [{ name: names.subnet, addressPrefix: subnetPrefix }] },
          lro,
        ),
    );
    const existing = vnet.subnets?.find((s) => s.name?.toLowerCase() === names.subnet.toLowerCase());
    if (existing?.id && existing.provisioningState === 'Succeeded') return existing.id;
    const subnet = await ensure(
      call,
      `subnet "${names.vnet}/${names.subnet}"`,
      () => network.subnets.get(rg, names.vnet, names.subnet),
      () => network.subnets.beginCreateOrUpdate(rg, names.vnet, names.subnet, { addressPrefix: subnetPrefix }, lro),
    );
    return subnet.id!;
  });

  const nsg = ensure(
    call,
    `network security group "${names.nsg}"`,
    () => network.networkSecurityGroups.get(rg, names.nsg),
    () =>
      network.networkSecurityGroups.beginCreateOrUpdate(
        rg,
        names.nsg,
        {
          location,
          tags: input.tags,
          securityRules: [
            {
              name: 'allow-ssh',
              protocol: 'Tcp',
              sourcePortRange: '*',
              destinationPortRange: '22',
              sourceAddressPrefix: settings.sshSourcePrefix ?? VNET_ONLY,
              destinationAddressPrefix: '*',
              access: 'Allow',
              priority: 1000,
              direction: 'Inbound',
            },
            ...(input.inboundPorts ?? []).map((port, i) => ({
              name: `allow-tcp-${port}`,
              protocol: 'Tcp',
              sourcePortRange: '*',
              destinationPortRange: String(port),
              sourceAddressPrefix: settings.sshSourcePrefix ?? VNET_ONLY,
              destinationAddressPrefix: '*',
              access: 'Allow',
              priority: 1010 + i,
              direction: 'Inbound',
            })),
          ],
        },
        lro,
      ),
  );

  const publicIp = ensure(
    call,
    `public IP "${names.publicIp}"`,
    () => network.publicIPAddresses.get(rg, names.publicIp),
    () =>
      network.publicIPAddresses.beginCreateOrUpdate(
        rg,
        names.publicIp,
        {
          location,
          tags: input.tags,
          sku: { name: 'Standard', tier: 'Regional' },
          publicIPAllocationMethod: 'Static',
          publicIPAddressVersion: 'IPv4',
          deleteOption: 'Delete',
        },
        lro,
      ),
  );

  const [subnetIdValue, nsgValue, publicIpValue] = await Promise.all([subnetId, nsg, publicIp]);
  const nic = await ensure(
    call,
    `network interface "${names.nic}"`,
    () => network.networkInterfaces.get(rg, names.nic),
    () =>
      network.networkInterfaces.beginCreateOrUpdate(
        rg,
        names.nic,
        {
          location,
          tags: input.tags,
          ipConfigurations: [
            { name: 'ipconfig1', primary: true, subnet: { id: subnetIdValue }, publicIPAddress: { id: publicIpValue.id }, privateIPAllocationMethod: 'Dynamic' },
          ],
          networkSecurityGroup: { id: nsgValue.id },
        },
        lro,
      ),
  );
  const privateIp = primaryConfig(nic)?.privateIPAddress;
  if (!publicIpValue.ipAddress || !privateIp) {
    throw new Error(`vm "${input.vmName}": network interface "${names.nic}" or public IP "${names.publicIp}" has no address yet; retry the operation`);
  }
  return { nicId: nic.id!, publicIp: publicIpValue.ipAddress, privateIp };
}

/** The VM's addresses in one read: its NIC with the public IP expanded. */
export async function readVmAddresses(network: NetworkManagementClient, call: ArmCaller, resourceGroup: string, nicName: string): Promise<{ publicIp?: string; privateIp?: string }> {
  const nic = await call.read(`network interface "${nicName}"`, () =>
    network.networkInterfaces.get(resourceGroup, nicName, { expand: 'ipConfigurations/publicIPAddress' }),
  );
  const config = nic && primaryConfig(nic);
  return { publicIp: config?.publicIPAddress?.ipAddress, privateIp: config?.privateIPAddress };
}

function primaryConfig(nic: NetworkInterface) {
  return nic.ipConfigurations?.find((c) => c.primary) ?? nic.ipConfigurations?.[0];
}
