/**
 * Restart a microservice, a hosted app or an AI model (instance `restart-svc-<name>`, one per
 * target). Backs off when restarted again and again and gives up after too many restarts in a row;
 * restarts each replica's container (or only the replicas the request names), and one that does not
 * come back healthy is recreated (starting its VM and rebuilding its image when needed); updates the
 * registry and records the event.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import {
  A,
  type EnsureVmInput,
  type EventInput,
  type PreparedImage,
  type RecordRestartInput,
  type StartServiceInput,
  type StartedService,
  type VmAccess,
} from '../activities/contracts.js';
import { decideRestart } from '../platform/backoff.js';
import type { ServiceKind } from '../platform/topology.js';
import { callArmActivity, failureMessage, isoAt } from './tasks.js';
import { activityTask, call, resultOf } from './calls.js';
import { buildImagesTask } from './build-images.js';

export interface RestartServiceInput {
  service: string;
  kind: ServiceKind;
  requestedBy: string;
  reason: string;
  /** Only these replicas (their indices): the watchdog restarts the replicas that failed. Absent: every replica. */
  replicas?: number[];
}

export interface RestartServiceOutput {
  service: string;
  outcome: 'restarted' | 'recreated' | 'gave-up' | 'failed';
  delayedInMs: number;
  streak: number;
  host?: string;
  port?: number;
  reason?: string;
  /** The replicas restarted, when the request named some. */
  replicas?: number[];
}

export const restartService: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<RestartServiceInput>();
  const operationId = context.df.instanceId;
  const requestedAt = isoAt(context);
  const target = (yield* call(context, A.readRestartTarget, { service: input.service }));
  if (target.service.kind !== input.kind) {
    throw new Error(`"${input.service}" is a ${target.service.kind}, not the ${input.kind} the request named: use the ${target.service.kind} restart route`);
  }
  const event = (e: Partial<EventInput> & Pick<EventInput, 'type' | 'outcome'>, suffix: string) =>
    activityTask(context, A.recordEvent, {
      target: input.service,
      targetKind: 'service',
      requestedBy: input.requestedBy,
      operationId,
      at: isoAt(context),
      id: `${operationId}:${requestedAt}:${suffix}`,
      ...e,
    } satisfies EventInput);

  const every = target.replicas ?? [{ index: 0, vm: target.vm, container: target.service.name, port: target.service.port }];
  const only = input.replicas;
  const replicas = only ? every.filter((r) => only.includes(r.index)) : every;
  const named = only ? { replicas: replicas.map((r) => r.index) } : {};
  if (replicas.length === 0) {
    // Scaled down since the request: nothing of it is left to restart (the streak is not counted).
    const reason = `replica(s) ${only!.join(', ')} of "${input.service}" are not in the desired state any more (it has ${every.length}): nothing restarted`;
    yield event({ type: 'restart', outcome: 'failed', reason, details: { replicas: only } }, 'gone');
    return { service: input.service, outcome: 'failed', delayedInMs: 0, streak: target.streak.streak, reason, replicas: [] } satisfies RestartServiceOutput;
  }

  const decision = decideRestart(target.policy, target.streak, context.df.currentUtcDateTime);
  if (decision.action === 'give-up') {
    yield* call(context, A.markService, { service: input.service, status: 'failed', reason: decision.reason, at: isoAt(context) });
    yield event({ type: 'restart', outcome: 'failed', reason: decision.reason }, 'gave-up');
    return { service: input.service, outcome: 'gave-up', delayedInMs: 0, streak: decision.streak, reason: decision.reason } satisfies RestartServiceOutput;
  }
  if (decision.delayInMs > 0) {
    yield event({ type: 'backoff', outcome: 'started', reason: input.reason, details: { delayInMs: decision.delayInMs, backoffInMs: decision.backoffInMs, streak: decision.streak } }, 'backoff');
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + decision.delayInMs));
  }
  yield event(
    { type: 'restart', outcome: 'started', reason: input.reason, details: { streak: decision.streak, backoffInMs: decision.backoffInMs, delayedInMs: decision.delayInMs, ...named } },
    'start',
  );

  const record = (outcome: RecordRestartInput['outcome'], detail?: string) =>
    activityTask(context, A.recordRestart, {
      service: input.service,
      streak: decision.streak,
      at: isoAt(context),
      operationId,
      requestedBy: input.requestedBy,
      reason: input.reason,
      outcome,
      detail,
    } satisfies RecordRestartInput);

  const spec = target.service;
  const runtime = { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health };
  let outcome: RestartServiceOutput['outcome'] = 'restarted';
  let started: Pick<StartedService, 'host' | 'port'> | undefined;
  // One replica after the other, so a replicated service keeps serving while it restarts.
  const reached = new Map<string, VmAccess>();
  const images = new Map<string, PreparedImage>();
  try {
    for (const replica of replicas) {
      // Reading the VM is cheap; it starts the VM only when it is down. Once per VM.
      let access = reached.get(replica.vm.name);
      if (!access) {
        const info = yield* callArmActivity(context, A.ensureVm, { azure: target.azure, vm: replica.vm } satisfies EnsureVmInput);
        access = { name: info.name, host: info.publicIp, privateIp: info.privateIp, adminUser: replica.vm.adminUser, sshKeySecret: replica.vm.sshKeySecret };
        reached.set(replica.vm.name, access);
      }
      const other = replica.index > 0 || replica.container !== spec.name;
      const service = { ...runtime, port: replica.port };
      const health = (yield* call(context, A.restartContainer, { vm: access, service, ...(other ? { replica: { index: replica.index, container: replica.container } } : {}) }));
      let here: Pick<StartedService, 'host' | 'port'>;
      if (!health.healthy) {
        outcome = 'recreated';
        // Built once per VM (replicas on one VM share the image), detached on the VM and polled.
        let image = images.get(access.name);
        if (!image) {
          const [built] = yield* resultOf(buildImagesTask(context, { vm: access, run: `${operationId}:${requestedAt}`, builds: [{ step: spec.name, source: spec.source }] }, images.size + 1));
          if (!built?.ok) throw new Error(built?.reason ?? `no image was built for "${spec.name}"`);
          image = built.image;
          images.set(access.name, image);
        }
        here = (yield* call(context, A.startService, {
          vm: access,
          service: runtime,
          image: image.image,
          version: image.version,
          operationId,
          monitoring: spec.role === 'monitoring',
          recreate: true,
          ...(other ? { replica: { index: replica.index, container: replica.container, port: replica.port } } : {}),
        } satisfies StartServiceInput));
      } else {
        here = { host: health.host!, port: health.port! };
      }
      started ??= here;
    }
  } catch (e) {
    const reason = failureMessage(e);
    yield record('failed', reason);
    yield event({ type: 'restart', outcome: 'failed', reason }, 'end');
    return { service: input.service, outcome: 'failed', delayedInMs: decision.delayInMs, streak: decision.streak, reason, ...named } satisfies RestartServiceOutput;
  }
  yield record('succeeded', outcome);
  yield event({ type: 'restart', outcome: 'succeeded', details: { action: outcome, streak: decision.streak, ...named } }, 'end');
  return {
    service: input.service,
    outcome,
    delayedInMs: decision.delayInMs,
    streak: decision.streak,
    host: started?.host,
    port: started?.port,
    ...named,
  } satisfies RestartServiceOutput;
};
