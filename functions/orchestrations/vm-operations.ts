/**
 * Operations on one VM, each its own orchestration with a fixed instance id per VM:
 * provision (add to the desired state, create, prepare Docker, register), initialize Docker, and
 * restart (restart, wait for SSH, make every service placed on it healthy again, re-register).
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  type ArmTarget,
  type EnsureVmInput,
  type EventInput,
  type RegisterVmInput,
  type StartKafkaInput,
  type StartServiceInput,
  type StartedService,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import { KAFKA, type Topology, type VmSpec } from '../platform/topology.js';
import { callArmActivity, failureMessage, isoAt, settleAll, transientRetry } from './tasks.js';
import { activityTask, call, callWithRetry, resultOf } from './calls.js';
import { buildImagesTask, type ImageOutcome } from './build-images.js';

export interface VmOperationInput {
  vm: string;
  requestedBy: string;
  /** Provision only: the new VM's spec, already validated by the API. */
  spec?: VmSpec;
}

export interface VmOperationOutput {
  vm: string;
  outcome: 'succeeded' | 'failed';
  publicIp?: string;
  privateIp?: string;
  services?: Array<{ name: string; ok: boolean; reason?: string }>;
  reason?: string;
}

function* desired(context: OrchestrationContext): Generator<Task, Topology, unknown> {
  return ((yield* call(context, A.readDesiredState))).topology;
}

function armTarget(t: Topology): ArmTarget {
  return { subscriptionId: t.azure.subscriptionId, resourceGroup: t.azure.resourceGroup, location: t.azure.location };
}

function accessOf(info: VmInfo, spec: VmSpec): VmAccess {
  return { name: spec.name, host: info.publicIp, privateIp: info.privateIp, adminUser: spec.adminUser, sshKeySecret: spec.sshKeySecret };
}

function eventFor(context: OrchestrationContext, input: VmOperationInput, type: EventInput['type']) {
  const at0 = isoAt(context);
  return (outcome: EventInput['outcome'], reason?: string) =>
    activityTask(context, A.recordEvent, {
      id: `${context.df.instanceId}:${at0}:${outcome}`,
      target: input.vm,
      targetKind: 'vm',
      type,
      outcome,
      reason,
      requestedBy: input.requestedBy,
      operationId: context.df.instanceId,
      at: isoAt(context),
    } satisfies EventInput);
}

/** Ensure the VM and Docker; shared by provision and init. */
function* ensureVmAndDocker(context: OrchestrationContext, azure: ArmTarget, spec: VmSpec): Generator<Task, VmInfo, unknown> {
  yield* callWithRetry(context, A.ensureResourceGroup, transientRetry, { azure });
  const info = yield* callArmActivity(context, A.ensureVm, { azure, vm: spec } satisfies EnsureVmInput);
  yield* callWithRetry(context, A.ensureDocker, transientRetry, { vm: accessOf(info, spec) });
  yield* call(context, A.registerVm, { vm: info, dockerReady: true, at: isoAt(context) } satisfies RegisterVmInput);
  return info;
}

/** Runs `work` between a started and a succeeded/failed event; a failure becomes the output. */
function* reported(
  context: OrchestrationContext,
  input: VmOperationInput,
  type: EventInput['type'],
  work: () => Generator<Task, VmInfo, unknown>,
): Generator<Task, VmOperationOutput, unknown> {
  const event = eventFor(context, input, type);
  yield event('started');
  try {
    const info = yield* work();
    yield event('succeeded');
    return { vm: input.vm, outcome: 'succeeded', publicIp: info.publicIp, privateIp: info.privateIp };
  } catch (e) {
    const reason = failureMessage(e);
    yield event('failed', reason);
    return { vm: input.vm, outcome: 'failed', reason };
  }
}

export const provisionVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<VmOperationInput>();
  return yield* reported(context, input, 'provision', function* () {
    if (!input.spec) throw new Error('provision needs the VM spec');
    const { topology } = (yield* call(context, A.addVmToDesiredState, { vm: input.spec }));
    return yield* ensureVmAndDocker(context, armTarget(topology), input.spec);
  });
};

export const initVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<VmOperationInput>();
  return yield* reported(context, input, 'init', function* () {
    const topology = yield* desired(context);
    const spec = topology.vms.find((v) => v.name === input.vm);
    if (!spec) throw new Error(`VM "${input.vm}" is not in the desired state`);
    return yield* ensureVmAndDocker(context, armTarget(topology), spec);
  });
};

export const restartVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<VmOperationInput>();
  const event = eventFor(context, input, 'restart');
  yield event('started');
  const topology = yield* desired(context);
  const spec = topology.vms.find((v) => v.name === input.vm);
  if (!spec) {
    const reason = `VM "${input.vm}" is not in the desired state`;
    yield event('failed', reason);
    return { vm: input.vm, outcome: 'failed', reason } satisfies VmOperationOutput;
  }
  let info: VmInfo;
  try {
    info = yield* callArmActivity(context, A.restartVm, { azure: armTarget(topology), vm: spec } satisfies EnsureVmInput);
    // Docker is there already; this waits until SSH answers again (its retries cover the reboot).
    yield* callWithRetry(context, A.ensureDocker, transientRetry, { vm: accessOf(info, spec) });
  } catch (e) {
    const reason = failureMessage(e);
    yield event('failed', reason);
    return { vm: input.vm, outcome: 'failed', reason } satisfies VmOperationOutput;
  }
  const access = accessOf(info, spec);
  const operationId = context.df.instanceId;
  // Every image placed here at once (detached on the VM, polled), then Kafka first (services need
  // it), then every service placed here, in parallel.
  const results: Array<{ name: string; ok: boolean; reason?: string }> = [];
  const kafkaHere = topology.kafka?.vm === input.vm ? topology.kafka : undefined;
  const placed = topology.services.filter((s) => s.vm === input.vm);
  const builds = [...(kafkaHere ? [{ step: KAFKA, source: kafkaHere.source }] : []), ...placed.map((s) => ({ step: s.name, source: s.source }))];
  const outcomes = builds.length > 0 ? yield* resultOf(buildImagesTask(context, { vm: access, run: `${operationId}:${isoAt(context)}`, builds }, 1)) : [];
  const imageOf = new Map<string, ImageOutcome>(outcomes.map((o) => [o.step, o]));
  const missing = (step: string) => {
    const o = imageOf.get(step);
    return `image: ${o && !o.ok ? o.reason : 'not built'}`;
  };
  if (kafkaHere) {
    const image = imageOf.get(KAFKA);
    if (!image?.ok) results.push({ name: KAFKA, ok: false, reason: missing(KAFKA) });
    else {
      try {
        yield* call(context, A.startKafka, {
          vm: access,
          kafka: { port: kafkaHere.port, topics: kafkaHere.topics, startupTimeoutInMs: kafkaHere.startupTimeoutInMs },
          image: image.image.image,
          version: image.image.version,
          operationId,
        } satisfies StartKafkaInput);
        results.push({ name: KAFKA, ok: true });
      } catch (e) {
        results.push({ name: KAFKA, ok: false, reason: failureMessage(e) });
      }
    }
  }
  const starts = placed.map((s) => {
    const image = imageOf.get(s.name);
    if (!image?.ok) return undefined;
    return activityTask(context, A.startService, {
      vm: access,
      service: { name: s.name, kind: s.kind, port: s.port, env: s.env, secretEnv: s.secretEnv, health: s.health },
      image: image.image.image,
      version: image.image.version,
      operationId,
      monitoring: s.role === 'monitoring',
    } satisfies StartServiceInput);
  });
  const startTasks = starts.filter((t): t is Task => t !== undefined);
  const settled = startTasks.length > 0 ? yield* settleAll<StartedService>(context, startTasks) : [];
  let k = 0;
  placed.forEach((s, i) => {
    if (!starts[i]) results.push({ name: s.name, ok: false, reason: missing(s.name) });
    else {
      const r = settled[k++]!;
      results.push(r.ok ? { name: s.name, ok: true } : { name: s.name, ok: false, reason: r.error });
    }
  });
  yield* call(context, A.registerVm, { vm: info, dockerReady: true, at: isoAt(context) } satisfies RegisterVmInput);
  const failed = results.filter((r) => !r.ok);
  yield event(failed.length ? 'failed' : 'succeeded', failed.length ? failed.map((f) => `${f.name}: ${f.reason}`).join('; ') : undefined);
  return {
    vm: input.vm,
    outcome: failed.length ? 'failed' : 'succeeded',
    publicIp: info.publicIp,
    privateIp: info.privateIp,
    services: results,
  } satisfies VmOperationOutput;
};
