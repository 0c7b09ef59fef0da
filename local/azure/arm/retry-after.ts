/**
 * The Retry-After real ARM sends on long-running operations, per resource provider, and its
 * scaling for local runs. Values from the SDKs' recorded traffic against Azure
 * (Azure/azure-sdk-for-js):
 * - Microsoft.Compute: VM create 201 `Retry-After: 10`, its first InProgress poll `50`
 *   (sdk/compute/arm-compute/recordings/node/compute_test/recording_virtualmachines_create_test.json
 *   @ 030ca529682c0177efb212c90ea12f6ca50fe581);
 * - Microsoft.Network: virtual network / subnet 201 `3`, InProgress polls `10` (same recording);
 * - Microsoft.Resources: resource group delete 202 and its 202 polls `15`
 *   (sdk/resources/arm-resources/recordings/node/resources_test/recording_resourcegroups_delete_test.json
 *   @ 4b92529f8b3369e64ce66db3254e1a6b32103222); template deployments use the same provider's value.
 * The header carries whole seconds, so a scaled value is rounded down: 0 says "no advice" to the
 * SDK (core-lro keeps its own poll interval on 0), which is what fast local runs want.
 */

export interface RetryAfterSeconds {
  /** On the initial 201/202 of a long-running operation. */
  initial: number;
  /** On each answer of a poll that is still running (async-operation InProgress, Location 202). */
  poll: number;
}

export const ARM_LRO_RETRY_AFTER: Readonly<Record<string, RetryAfterSeconds>> = {
  'microsoft.compute': { initial: 10, poll: 50 },
  'microsoft.network': { initial: 3, poll: 10 },
  'microsoft.resources': { initial: 15, poll: 15 },
};

/** For a provider the recordings do not cover: ARM's documented default poll interval. */
export const DEFAULT_LRO_RETRY_AFTER: RetryAfterSeconds = { initial: 10, poll: 10 };

/**
 * The scale local mode and the tests run at: one millisecond per real second (the emulator's
 * operations take milliseconds where Azure's take seconds to minutes), so every advertised value
 * rounds to 0 and the clients' own poll intervals rule. Scale 1 advertises what Azure sends.
 */
export const LOCAL_RETRY_AFTER_SCALE = 0.001;

export function retryAfterFor(namespace: string, phase: keyof RetryAfterSeconds, scale: number): number {
  const real = (ARM_LRO_RETRY_AFTER[namespace.toLowerCase()] ?? DEFAULT_LRO_RETRY_AFTER)[phase];
  return Math.max(0, Math.floor(real * scale + 1e-9));
}
