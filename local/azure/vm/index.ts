/** The local VM fleet: network namespaces with real OpenSSH and real Docker engines. */
export { createVmFleet, VmFleet, type ImageHook, type VmFleetOptions } from './fleet.js';
export { checkHostSupport, HostSupportError } from './preflight.js';
export type { DockerEvent, DockerEventCounts, DockerEventKind, DockerEventSource, VmInfo } from './types.js';
