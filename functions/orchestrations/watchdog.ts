/**
 * The watchdog (instance `watchdog`): an eternal orchestration that watches the monitoring service.
 * Every round it checks the service's health from its VM; after `failuresBeforeRestart` failed checks
 * in a row it starts the same restart orchestration operators use, through the durable client, which
 * refuses the restart's fixed id while a restart (an operator's or its own) runs: a sub-orchestration
 * under that id would, on Azure Storage, silently replace the running restart. It does not wait for
 * the restart; the next rounds' health checks see its effect. Each round first reads where the
 * service runs now, so a move, a changed port or a recreated VM's new address is followed (the
 * last known place when the read fails), and the watchdog ends when the desired state no longer
 * has the service. Each round ends with continueAsNew, so its history stays a few events long
 * however long it runs.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { A, type RestartContainerInput, type ServiceLocation, type ServiceRuntimeSpec, type VmAccess } from '../activities/contracts.js';
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
  let where: ServiceLocation | undefined;
  try {
    where = yield* call(context, A.locateService, { service: input.service.name });
  } catch {
    where = undefined;
  }
  if (where?.state === 'removed') {
    context.df.setCustomStatus({ service: input.service.name, stopped: where.reason, rounds: input.rounds ?? 0, lastRestart });
    return { stopped: where.reason };
  }
  const service = where?.state === 'found' ? where.service : input.service;
  const vm = where?.state === 'found' ? where.vm : input.vm;
  // Failed checks of the place it left say nothing of the place it runs now.
  if (vm.name !== input.vm.name || service.port !== input.service.port) failures = 0;
  const health = (yield* call(context, A.checkHealth, { vm, service } satisfies RestartContainerInput));
  failures = health.healthy ? 0 : failures + 1;

  if (failures >= input.failuresBeforeRestart) {
    const request: RestartServiceInput = {
      service: service.name,
      kind: service.kind,
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
  context.df.setCustomStatus({ service: service.name, vm: vm.name, healthy: health.healthy, failures, rounds: (input.rounds ?? 0) + 1, lastRestart });
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + input.intervalInMs));
  context.df.continueAsNew({ ...input, service, vm, failures, rounds: (input.rounds ?? 0) + 1, lastRestart } satisfies WatchdogInput);
  return undefined;
};
