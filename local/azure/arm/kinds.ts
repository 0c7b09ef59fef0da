/**
 * The operation kinds the ARM emulator distinguishes. Every request is classified as exactly one
 * kind: the request log counts by kind, faults target a kind, and latency is set per kind.
 *
 * - `*.read` kinds and `operation.poll` are GETs (HEAD for resource groups); their latency delays
 *   the response.
 * - Write kinds (`*.write`, `*.delete`, `vm.create` ...) are long-running operations except
 *   `resourceGroup.write` (synchronous, like ARM); their latency is how long the operation stays
 *   InProgress before it ends.
 * - `operation.poll` covers both the Azure-AsyncOperation URL and the Location (operationResults) URL.
 * - `deployment.*`, `platform.*` and `keys.list` are template deployments and the resources they
 *   create (platform.ts); `keys.list` is a POST (counted as a write, as ARM counts it).
 * - `unsupported` is any route the emulator does not model (answered 400 InvalidResourceType).
 */
export const OPERATION_KINDS = [
  'resourceGroup.read',
  'resourceGroup.write',
  'resourceGroup.delete',
  'network.read',
  'vnet.write',
  'subnet.write',
  'nsg.write',
  'publicIp.write',
  'nic.write',
  'network.delete',
  'vm.read',
  'vm.create',
  'vm.update',
  'vm.start',
  'vm.restart',
  'vm.powerOff',
  'vm.deallocate',
  'vm.delete',
  'deployment.read',
  'deployment.write',
  'platform.read',
  'platform.write',
  'keys.list',
  'operation.poll',
  'unsupported',
] as const;

export type OperationKind = (typeof OPERATION_KINDS)[number];

/** Kinds answered as long-running operations (the ones `faults.failOperation` can target). */
export type LroKind = Extract<
  OperationKind,
  | 'resourceGroup.delete'
  | 'vnet.write'
  | 'subnet.write'
  | 'nsg.write'
  | 'publicIp.write'
  | 'nic.write'
  | 'network.delete'
  | 'vm.create'
  | 'vm.update'
  | 'vm.start'
  | 'vm.restart'
  | 'vm.powerOff'
  | 'vm.deallocate'
  | 'vm.delete'
  | 'deployment.write'
>;

/** Small defaults so tests run fast; benchmarks raise them (e.g. vm.create 30000). */
export const DEFAULT_LATENCY_IN_MS: Record<OperationKind, number> = {
  'resourceGroup.read': 0,
  'resourceGroup.write': 0,
  'resourceGroup.delete': 20,
  'network.read': 0,
  'vnet.write': 20,
  'subnet.write': 20,
  'nsg.write': 20,
  'publicIp.write': 20,
  'nic.write': 20,
  'network.delete': 20,
  'vm.read': 0,
  'vm.create': 50,
  'vm.update': 20,
  'vm.start': 30,
  'vm.restart': 30,
  'vm.powerOff': 20,
  'vm.deallocate': 20,
  'vm.delete': 20,
  'deployment.read': 0,
  'deployment.write': 20,
  'platform.read': 0,
  'platform.write': 0,
  'keys.list': 0,
  'operation.poll': 0,
  unsupported: 0,
};

export function isWriteMethod(method: string): boolean {
  return method === 'PUT' || method === 'POST' || method === 'DELETE' || method === 'PATCH';
}
