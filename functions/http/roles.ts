/**
 * Who may call what, as function keys express it on Azure. Operators hold a host key (valid on every
 * function); the monitoring service holds one function-specific key, set only on the functions below,
 * so it can read the registry and ask for restarts and nothing else (no boot, no provisioning, no VM
 * restart, no terminate); every other service holds a key that reads the registry and nothing else.
 * Function names are the ones functions/index.ts registers.
 */

/** Name of the monitoring service's key on each function it may call. */
export const MONITORING_KEY_NAME = 'monitoring';

/**
 * The functions the monitoring key is set on: what its job needs, nothing more. `registryEntry`
 * (GET /api/registry/{service}) too: the example's services look Kafka and each other up with it.
 */
export const MONITORING_FUNCTIONS = ['registry', 'registryEntry', 'serviceRestart', 'appRestart', 'modelRestart'] as const;

/** The per-function keys of the monitoring service, in the shape hosts take (function -> key name -> value). */
export function monitoringFunctionKeys(value: string): Record<string, Record<string, string>> {
  return Object.fromEntries(MONITORING_FUNCTIONS.map((fn) => [fn, { [MONITORING_KEY_NAME]: value }]));
}

/** Name of the services' key on each function they may call. */
export const SERVICE_KEY_NAME = 'service';

/** The functions the services' key is set on: looking each other (and Kafka) up, read only. */
export const SERVICE_FUNCTIONS = ['registry', 'registryEntry'] as const;

/** Every role's per-function keys, merged in the shape hosts take (function -> key name -> value). */
export function roleFunctionKeys(keys: { monitoring: string; service: string }): Record<string, Record<string, string>> {
  const out = monitoringFunctionKeys(keys.monitoring);
  for (const fn of SERVICE_FUNCTIONS) out[fn] = { ...out[fn], [SERVICE_KEY_NAME]: keys.service };
  return out;
}
