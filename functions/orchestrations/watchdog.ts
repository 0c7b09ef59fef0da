/**
 * The watchdog (instance `watchdog`): an eternal orchestration that watches the monitoring service.
 * Every round it checks the service's health from its VM; after `failuresBeforeRestart` failed checks
 * in a row it starts the same restart orchestration operators use, through the durable client, which
 * refuses the restart's fixed id while a restart (an operator's or its own) runs: a sub-orchestration
 * under that id would, on Azure Storage, silently replace the running restart. It does not wait for
 * the restart; the next rounds' health checks see its effect. Each round ends with continueAsNew, so
 * its history stays a few events long however long it runs.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { A, type RestartContainerInput, type ServiceRuntimeSpec, type VmAccess } from '../activities/contracts.js';
import type { RestartServiceInput } from './restart-service.js';
import { failureMessage } from './tasks.js';
import { call } from './calls.js';

export interface WatchdogInput {
  service: ServiceRuntimeSpec;
  vm: VmAccess;
  intervalInMs: number;
  failuresBeforeRestart: number;
  /** Failed checks in a row so far. */
  failures?: number;
  rounds?: number;
  lastRestart?: { at: string; outcome: string };
}

export const watchdog: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<WatchdogInput>();
  let failures = input.failures ?? 0;
  let lastRestart = input.lastRestart;
  const health = (yield* call(context, A.checkHealth, { vm: input.vm, service: input.service } satisfies RestartContainerInput));
  failures = health.healthy ? 0 : failures + 1;

  if (failures >= input.failuresBeforeRestart) {
    const request: RestartServiceInput = {
      service: input.service.name,
      kind: input.service.kind,
      requestedBy: 'watchdog',
      reason: `monitoring failed ${failures} health checks in a row${health.detail ? ` (${health.detail})` : ''}`,
    };
    try {
      const r = (yield* call(context, A.startRestart, request));
      lastRestart = { at: context.df.currentUtcDateTime.toISOString(), outcome: r.started ? `started ${r.instanceId}` : `not started: ${r.reason}` };
    } catch (e) {
      lastRestart = { at: context.df.currentUtcDateTime.toISOString(), outcome: `not started: ${failureMessage(e)}` };
    }
    failures = 0;
  }
  context.df.setCustomStatus({ service: input.service.name, healthy: health.healthy, failures, rounds: (input.rounds ?? 0) + 1, lastRestart });
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + input.intervalInMs));
  context.df.continueAsNew({ ...input, failures, rounds: (input.rounds ?? 0) + 1, lastRestart } satisfies WatchdogInput);
  return undefined;
};
