/** The emulated VM fleet: SSH servers as VMs with a Docker stand-in that starts real processes. */
export { createVmFleet, VmFleet, type VmFleetOptions } from './fleet.js';
export { fingerprintOf } from './host-key.js';
export type {
  DockerEvent,
  DockerEventCounts,
  DockerEventKind,
  DockerEventSource,
  SpecialImage,
  SpecialImageContext,
  VmInfo,
} from './types.js';
