/**
 * The contract between the ARM emulator (which owns VM resources and their power state) and the
 * VM fleet (which makes a running VM real: an SSH server on its address, a sandbox, processes).
 */
export interface VmPowerOn {
  /** ARM resource name of the VM. */
  name: string;
  /** The VM's public IP address (what the LCM reaches it on over SSH). */
  ip: string;
  /** Its primary NIC's private (VNet) address, where its services are registered. */
  privateIp: string;
  adminUser: string;
  /** OpenSSH public keys from osProfile.linuxConfiguration.ssh.publicKeys[].keyData. */
  publicKeys: string[];
  /** osProfile.customData as created (base64; cloud-init reads it at the VM's first boot). */
  customData?: string;
  /** The network security groups in force on its primary NIC's inbound traffic (see InboundRules). */
  inboundRules?: InboundRules;
}

/** An inbound security rule as ARM stores it (one NSG's `securityRules[].properties`, with its name). */
export interface NsgRule {
  name: string;
  priority: number;
  access: 'Allow' | 'Deny';
  /** Tcp, Udp, Icmp, Esp, Ah or * (Any). */
  protocol: string;
  /** Address prefixes: CIDRs, addresses, '*' or service tags (VirtualNetwork, AzureLoadBalancer, Internet). */
  sourceAddressPrefixes: string[];
  destinationAddressPrefixes: string[];
  /** '*', '22', '8000-8010'. */
  destinationPortRanges: string[];
}

/**
 * The NSGs inbound traffic of a VM passes, in Azure's order: its subnet's NSG, then its NIC's. A
 * layer with no NSG lets everything through; a layer with one applies its inbound rules by priority
 * and then Azure's defaults (AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound).
 */
export interface InboundRules {
  subnet?: NsgRule[];
  nic?: NsgRule[];
}

export type PowerOffReason = 'stop' | 'deallocate' | 'delete' | 'restart';

export interface VmPowerHooks {
  /** The VM reached running: bring SSH up on its address; restart containers as Docker would. */
  powerOn(vm: VmPowerOn): Promise<void>;
  /** The VM stops: stop its SSH server and every process it runs. On 'delete', drop its sandbox. */
  powerOff(name: string, reason: PowerOffReason): Promise<void>;
  /** The NSGs in force on a VM changed (a rule, an NSG, or which NSG a NIC or subnet uses). */
  applyInboundRules?(name: string, rules: InboundRules): Promise<void>;
}
