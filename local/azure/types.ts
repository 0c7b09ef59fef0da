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
}

export type PowerOffReason = 'stop' | 'deallocate' | 'delete' | 'restart';

export interface VmPowerHooks {
  /** The VM reached running: bring SSH up on its address; restart containers as Docker would. */
  powerOn(vm: VmPowerOn): Promise<void>;
  /** The VM stops: stop its SSH server and every process it runs. On 'delete', drop its sandbox. */
  powerOff(name: string, reason: PowerOffReason): Promise<void>;
}
