/**
 * The watchdog (instance `watchdog`): an eternal orchestration that watches the monitoring service.
 * Every round it checks the health of each of the service's replicas from its VM (one checkHealth per
 * replica, all in one fan-out) and counts each replica's failed checks in a row; once replicas reach
 * `failuresBeforeRestart`, it starts the same restart orchestration operators use, for those replicas
 * only, through the durable client, which refuses the restart's fixed id while a restart (an
 * operator's or its own) runs: a sub-orchestration under that id would, on Azure Storage, silently
 * replace the running restart. It does not wait for the restart; the next rounds' health checks see
 * its effect. Each round first reads where each replica runs now, so a move, a changed port, a scale
 * or a recreated VM's new address is followed (the last known places when the read fails), and the
 * watchdog ends when the desired state no longer has the service. Each round ends with
 * continueAsNew, so its history stays a few events long however long it runs.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { A, type HealthResult, type ReplicaAccess, type RestartContainerInput, type ServiceLocation, type ServiceRuntimeSpec, type VmAccess } from '../activities/contracts.js';
import type { RestartServiceInput } from './restart-service.js';
import { failureMessage, settleAll } from './tasks.js';
import { activityTask, call } from './calls.js';

/** A replica as the watchdog watches it: where it ran last round, and its failed checks in a row. */
export interface WatchedReplica extends ReplicaAccess {
  failures: number;
}

export interface WatchdogInput {
  service: ServiceRuntimeSpec;
  vm: VmAccess;
  intervalInMs: number;
  failuresBeforeRestart: number;
  /** Failed checks in a row so far of the one container at `vm` (when `replicas` is absent). */
  failures?: number;
  /** Every replica watched last round (absent before the first round: one container at `vm`, `service.port`). */
  replicas?: WatchedReplica[];
  rounds?: number;
  lastRestart?: { at: string; outcome: string };
}

export const watchdog: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<WatchdogInput>();
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
  const before: WatchedReplica[] = input.replicas ?? [{ index: 0, container: input.service.name, port: input.service.port, vm: input.vm, failures: input.failures ?? 0 }];
  const found = where?.state === 'found' ? (where.replicas?.length ? where.replicas : [{ index: 0, container: service.name, port: service.port, vm }]) : undefined;
  const now: ReplicaAccess[] = found ?? before;
  // Failed checks of the place a replica left say nothing of the place it runs now.
  const watched: WatchedReplica[] = now.map((r) => {
    const last = before.find((b) => b.index === r.index && b.vm.name === r.vm.name && b.container === r.container && b.port === r.port);
    return { index: r.index, container: r.container, port: r.port, vm: r.vm, failures: last?.failures ?? 0 };
  });

  const checks = yield* settleAll(
    context,
    watched.map((r) => {
      const other = r.index > 0 || r.container !== service.name;
      return activityTask(context, A.checkHealth, {
        vm: r.vm,
        service: { ...service, port: r.port },
        ...(other ? { replica: { index: r.index, container: r.container } } : {}),
      } satisfies RestartContainerInput);
    }),
  );
  const health: HealthResult[] = checks.map((c) => (c.ok ? c.value : { service: service.name, healthy: false, running: false, detail: c.error }));
  watched.forEach((r, i) => (r.failures = health[i]!.healthy ? 0 : r.failures + 1));

  const due = watched.filter((r) => r.failures >= input.failuresBeforeRestart);
  if (due.length > 0) {
    const one = watched.length === 1 && due[0]!.index === 0 && due[0]!.container === service.name;
    const why = (r: WatchedReplica) => {
      const detail = health[watched.indexOf(r)]!.detail;
      return `failed ${r.failures} health checks in a row${detail ? ` (${detail})` : ''}`;
    };
    const request: RestartServiceInput = one
      ? { service: service.name, kind: service.kind, requestedBy: 'watchdog', reason: `monitoring ${why(due[0]!)}` }
      : {
          service: service.name,
          kind: service.kind,
          requestedBy: 'watchdog',
          reason: due.map((r) => `monitoring replica ${r.index} (${r.container} on ${r.vm.name}) ${why(r)}`).join('; '),
          replicas: due.map((r) => r.index),
        };
    try {
      const r = yield* call(context, A.startRestart, request);
      lastRestart = { at: context.df.currentUtcDateTime.toISOString(), outcome: r.started ? `started ${r.instanceId}${one ? '' : ` (replicas ${request.replicas!.join(', ')})`}` : `not started: ${r.reason}` };
    } catch (e) {
      lastRestart = { at: context.df.currentUtcDateTime.toISOString(), outcome: `not started: ${failureMessage(e)}` };
    }
    for (const r of due) r.failures = 0;
  }
  const rounds = (input.rounds ?? 0) + 1;
  context.df.setCustomStatus({
    service: service.name,
    vm: vm.name,
    healthy: health.every((h) => h.healthy),
    failures: Math.max(...watched.map((r) => r.failures)),
    rounds,
    lastRestart,
    ...(watched.length > 1
      ? { replicas: watched.map((r, i) => ({ replica: r.index, vm: r.vm.name, container: r.container, port: r.port, healthy: health[i]!.healthy, failures: r.failures })) }
      : {}),
  });
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + input.intervalInMs));
  context.df.continueAsNew({ ...input, service, vm, failures: watched[0]!.failures, replicas: watched, rounds, lastRestart } satisfies WatchdogInput);
  return undefined;
};
