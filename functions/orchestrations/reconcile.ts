/**
 * The reconcile (instance `reconcile`, one at a time): read the desired state and the actual one,
 * plan the difference (platform/reconcile-plan.ts, the dry run's planner) and converge: provision
 * missing VMs (the boot's per-VM orchestration), stop what was removed (dependents first), start
 * and recreate in the boot's order through the boot's own activities (image builds, startService,
 * startKafka), then drain surplus containers (deregister, then stop). A move or scale-up starts the
 * new containers before the old ones drain, so the service keeps a healthy registered endpoint;
 * a service whose new container failed to start keeps its old ones.
 *
 * It waits while a boot or a restart runs, and when the desired state changed while it ran, it
 * goes again (continueAsNew) with the new one: a request made meanwhile joins it and is applied.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  O,
  type EventInput,
  type PreparedImage,
  type StartKafkaInput,
  type StartServiceInput,
  type StartedService,
  type VmAccess,
} from '../activities/contracts.js';
import { reconcileVmId } from '../platform/ids.js';
import { kafkaPorts } from '../platform/kafka-ports.js';
import { planTopology } from '../platform/plan.js';
import { planReconcile, type Change, type StartStep, type StopStep } from '../platform/reconcile-plan.js';
import { KAFKA, type Topology } from '../platform/topology.js';
import type { BootVmInput, BootVmOutput } from './boot-vm.js';
import { activityTask, call, resultOf, type TypedTask } from './calls.js';
import { failureMessage, isoAt, settleAll } from './tasks.js';
import { buildImagesTask } from './build-images.js';

export interface ReconcileInput {
  requestedBy?: string;
  reason?: string;
  /** How many times this instance went again because the desired state changed (set by itself). */
  round?: number;
}

export interface StepOutcome {
  op: 'provision' | 'start' | 'recreate' | 'stop' | 'drain';
  service?: string;
  vm: string;
  container?: string;
  /** What the container operation did: startService's action, or removed / absent for a stop. */
  outcome: 'none' | 'started' | 'created' | 'replaced' | 'removed' | 'absent' | 'provisioned' | 'failed' | 'skipped';
  reason?: string;
}

export interface ReconcileOutput {
  status: 'succeeded' | 'partial' | 'failed';
  version?: number;
  changes: Change[];
  unchanged: string[];
  steps: StepOutcome[];
  failures: string[];
  rounds: number;
}

/** Operations the reconcile does not run beside: it waits for them to end. */
export const EXCLUSIVE_WITH = ['boot', 'restart-svc-', 'restart-vm-', 'provision-vm-', 'init-vm-'];
/** How often and how many times it looks again while one of those runs (30 min in all). */
export const BUSY_WAIT_IN_MS = 5_000;
export const MAX_BUSY_WAITS = 360;
/**
 * Between taking containers out of the registry and stopping them: clients that read the registry
 * just before (a poll interval) finish their calls to them.
 */
export const DRAIN_GRACE_IN_MS = 2_000;
/** Rounds of continueAsNew for desired states changed while reconciling, before it stops to let an operator look. */
export const MAX_ROUNDS = 10;

export const reconcile: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<ReconcileInput | undefined>() ?? {};
  const round = input.round ?? 0;
  const operationId = context.df.instanceId;
  const startedAt = isoAt(context);

  for (let waits = 0; ; waits++) {
    const busy = yield* call(context, A.activeOperations, { prefixes: EXCLUSIVE_WITH });
    if (busy.length === 0) break;
    if (waits >= MAX_BUSY_WAITS) throw new Error(`reconcile: still waiting for ${busy.join(', ')} after ${Math.round((waits * BUSY_WAIT_IN_MS) / 60_000)} min; try again when they end`);
    context.df.setCustomStatus({ phase: 'waiting', for: busy.slice(0, 10) });
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + BUSY_WAIT_IN_MS));
  }

  const desired = yield* call(context, A.readDesiredState);
  const topology = desired.topology;
  const azure = { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location };
  const actual = yield* call(context, A.readActualState, {
    azure,
    vms: topology.vms.map(({ name, adminUser, sshKeySecret }) => ({ name, adminUser, sshKeySecret })),
    sources: [...topology.services.map((s) => s.source), ...(topology.kafka ? [topology.kafka.source] : [])],
  });
  const plan = planReconcile(topology, actual);
  const event = (e: Omit<EventInput, 'id' | 'operationId' | 'at'>, suffix: string): Task =>
    activityTask(context, A.recordEvent, { ...e, id: `${operationId}:${startedAt}:${suffix}`, operationId, at: isoAt(context) } satisfies EventInput);
  const steps: StepOutcome[] = [];
  const failures: string[] = [];
  const status = (phase: string) =>
    context.df.setCustomStatus({ phase, version: desired.version, changes: plan.changes.length, done: steps.length, failed: failures.length });

  if (plan.changes.length > 0) {
    yield event({ target: 'platform', targetKind: 'platform', type: 'reconcile', outcome: 'started', requestedBy: input.requestedBy, reason: input.reason, details: { changes: plan.changes.length, version: desired.version } }, 'start');
  }

  // Where each VM is reached: from ARM's read, or from the provisioning below.
  const access = new Map<string, VmAccess>();
  const specOf = new Map(topology.vms.map((vm) => [vm.name, vm]));
  for (const vm of actual.vms) {
    const spec = specOf.get(vm.name);
    if (spec && vm.running && vm.publicIp && vm.privateIp) {
      access.set(vm.name, { name: vm.name, host: vm.publicIp, privateIp: vm.privateIp, adminUser: spec.adminUser, sshKeySecret: spec.sshKeySecret });
    }
  }

  // 1. VMs that are missing or down: the boot's per-VM orchestration (ensure VM, Docker, register).
  if (plan.provision.length > 0) {
    status('provisioning');
    const tasks = plan.provision.map((name) => {
      const vmInput: BootVmInput = {
        azure,
        vm: specOf.get(name)!,
        steps: [],
        ...(topology.kafka?.vm === name ? { inboundPorts: [kafkaPorts(topology.kafka.port).external] } : {}),
      };
      return context.df.callSubOrchestrator(O.bootVm, vmInput, reconcileVmId(name)) as TypedTask<BootVmOutput>;
    });
    const settled = yield* settleAll(context, tasks);
    settled.forEach((r, i) => {
      const vm = plan.provision[i]!;
      if (r.ok && r.value.ok) {
        access.set(vm, r.value.access);
        steps.push({ op: 'provision', vm, outcome: 'provisioned' });
      } else {
        const reason = r.ok ? (r.value as Extract<BootVmOutput, { ok: false }>).reason : r.error;
        failures.push(`VM "${vm}": ${reason}`);
        steps.push({ op: 'provision', vm, outcome: 'failed', reason });
      }
    });
  }

  // 2. Removed services: deregister, give readers of the registry time to let go, then stop (dependents first).
  status('stopping');
  yield* drainAll(context, plan.stops, access, steps, failures, 'stop');

  // 3. Starts and recreates, in the boot's order; a service whose dependency failed is not started.
  const failed = new Set<string>();
  const replicated = new Set(topology.services.filter((s) => (s.replicas ?? 1) > 1).map((s) => s.name));
  const dependsOn = new Map(planTopology(topology).services.map((s) => [s.name, s.dependsOn]));
  const images = new Map<string, PreparedImage>();
  let buildRound = 0;
  const sourceOf = (service: string) => (service === KAFKA ? topology.kafka!.source : topology.services.find((s) => s.name === service)!.source);
  for (const level of plan.starts) {
    for (const roundSteps of level) {
      status('starting');
      const runnable: StartStep[] = [];
      for (const step of roundSteps) {
        const blocker = (dependsOn.get(step.service) ?? []).find((d) => failed.has(d));
        const reason = !access.has(step.vm) ? `VM "${step.vm}" is not reachable` : failed.has(step.service) ? 'an earlier replica failed' : blocker ? `its dependency "${blocker}" failed` : undefined;
        if (reason) {
          // Counted as a failure once per service; what it blocks is reported as skipped.
          if (!failed.has(step.service)) failures.push(`${step.service} on "${step.vm}": not started: ${reason}`);
          failed.add(step.service);
          steps.push({ op: step.recreate ? 'recreate' : 'start', service: step.service, vm: step.vm, container: step.container, outcome: 'skipped', reason });
          continue;
        }
        runnable.push(step);
      }
      // Images first: per VM, one build sub-orchestration for what this round needs there (each an
      // ensure, a build only when missing, detached on the VM and polled).
      const wanted = [...new Set(runnable.map((s) => `${s.vm}/${s.service}`))].filter((k) => !images.has(k));
      const byVm = new Map<string, string[]>();
      for (const key of wanted) {
        const [vm, service] = key.split('/') as [string, string];
        byVm.set(vm, [...(byVm.get(vm) ?? []), service]);
      }
      const buildVms = [...byVm.keys()];
      if (buildVms.length > 0) buildRound++;
      const built = yield* settleAll(
        context,
        buildVms.map((vm) =>
          buildImagesTask(context, { vm: access.get(vm)!, run: `${operationId}:${startedAt}`, builds: byVm.get(vm)!.map((service) => ({ step: service, source: sourceOf(service) })) }, buildRound),
        ),
      );
      const buildErrors = new Map<string, string>();
      built.forEach((r, i) => {
        const vm = buildVms[i]!;
        if (!r.ok) {
          for (const service of byVm.get(vm)!) buildErrors.set(`${vm}/${service}`, r.error);
          return;
        }
        for (const o of r.value) {
          if (o.ok) images.set(`${vm}/${o.step}`, o.image);
          else buildErrors.set(`${vm}/${o.step}`, o.reason);
        }
      });
      const starting: Array<{ step: StartStep; image: PreparedImage }> = [];
      for (const step of runnable) {
        const image = images.get(`${step.vm}/${step.service}`);
        if (!image) {
          const reason = buildErrors.get(`${step.vm}/${step.service}`) ?? 'no image';
          failed.add(step.service);
          failures.push(`${step.service} on "${step.vm}": image: ${reason}`);
          steps.push({ op: step.recreate ? 'recreate' : 'start', service: step.service, vm: step.vm, container: step.container, outcome: 'failed', reason });
          continue;
        }
        starting.push({ step, image });
      }
      // A replica about to be replaced leaves the registry first, while the others keep serving
      // (a single container is replaced in place: there is nothing else to send clients to).
      const leaving = starting.map((s) => s.step).filter((s) => s.recreate && replicated.has(s.service));
      if (leaving.length > 0) {
        for (const s of leaving) yield* call(context, A.deregisterInstance, { service: s.service, vm: s.vm, container: s.container, at: isoAt(context) });
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + DRAIN_GRACE_IN_MS));
      }
      // Tasks are made only now, after the deregistrations above: each is scheduled when yielded, in this order.
      const starts: Array<TypedTask<StartedService>> = starting.map(({ step, image }) => startTask(context, topology, step, access.get(step.vm)!, image, operationId));
      const settled = yield* settleAll(context, starts);
      settled.forEach((r, i) => {
        const step = starting[i]!.step;
        const op = step.recreate ? 'recreate' : 'start';
        if (r.ok) steps.push({ op, service: step.service, vm: step.vm, container: step.container, outcome: r.value.action, ...(step.recreate ? { reason: step.recreate } : {}) });
        else {
          failed.add(step.service);
          failures.push(`${step.service} on "${step.vm}": ${r.error}`);
          steps.push({ op, service: step.service, vm: step.vm, container: step.container, outcome: 'failed', reason: r.error });
        }
      });
    }
  }

  // 4. Surplus containers of kept services: drained only when the service's new containers run.
  status('draining');
  const drains: StopStep[] = [];
  for (const stop of plan.drains) {
    if (failed.has(stop.service)) {
      steps.push({ op: 'drain', service: stop.service, vm: stop.vm, container: stop.container, outcome: 'skipped', reason: 'its new containers did not start: the old one keeps serving' });
    } else drains.push(stop);
  }
  yield* drainAll(context, drains, access, steps, failures, 'drain');

  const output: ReconcileOutput = {
    status: failures.length === 0 ? 'succeeded' : steps.some((s) => s.outcome !== 'failed' && s.outcome !== 'skipped') ? 'partial' : 'failed',
    version: desired.version,
    changes: plan.changes,
    unchanged: plan.unchanged,
    steps,
    failures,
    rounds: round + 1,
  };
  if (plan.changes.length > 0) {
    yield event(
      { target: 'platform', targetKind: 'platform', type: 'reconcile', outcome: failures.length === 0 ? 'succeeded' : 'failed', reason: failures.length ? `${failures.length} failure(s)` : undefined, details: { steps: steps.length } },
      'end',
    );
  }

  // The desired state changed while this ran: go again with it (the same instance, a fresh history).
  const after = yield* call(context, A.readDesiredState);
  if (after.version !== desired.version && round + 1 < MAX_ROUNDS) {
    context.df.setCustomStatus({ phase: 'again', version: after.version, previous: output.status });
    context.df.continueAsNew({ ...input, round: round + 1 } satisfies ReconcileInput);
    return undefined;
  }
  context.df.setCustomStatus({ phase: 'finished', version: desired.version, changes: plan.changes.length, failed: failures.length });
  return output;
};

function startTask(context: OrchestrationContext, topology: Topology, step: StartStep, vm: VmAccess, image: PreparedImage, operationId: string): TypedTask<StartedService> {
  if (step.service === KAFKA) {
    const kafka = topology.kafka!;
    return activityTask(context, A.startKafka, { vm, kafka: { port: kafka.port, topics: kafka.topics, startupTimeoutInMs: kafka.startupTimeoutInMs }, image: image.image, version: image.version, operationId } satisfies StartKafkaInput);
  }
  const spec = topology.services.find((s) => s.name === step.service)!;
  return activityTask(context, A.startService, {
    vm,
    service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
    image: image.image,
    version: image.version,
    operationId,
    monitoring: spec.role === 'monitoring',
    replica: { index: step.replica, container: step.container, port: step.port },
    level: step.level,
  } satisfies StartServiceInput);
}

/**
 * Drain containers: deregister each (clients stop finding it), wait DRAIN_GRACE_IN_MS once, then
 * stop and remove each. A container whose deregistration failed is not stopped.
 */
function* drainAll(context: OrchestrationContext, stops: StopStep[], access: Map<string, VmAccess>, steps: StepOutcome[], failures: string[], op: 'stop' | 'drain'): Generator<Task, void, unknown> {
  if (stops.length === 0) return;
  const ready: StopStep[] = [];
  for (const stop of stops) {
    try {
      yield* call(context, A.deregisterInstance, { service: stop.service, vm: stop.vm, container: stop.container, at: isoAt(context) });
      ready.push(stop);
    } catch (e) {
      const reason = failureMessage(e);
      failures.push(`${op} ${stop.service} on "${stop.vm}": deregister: ${reason}`);
      steps.push({ op, service: stop.service, vm: stop.vm, container: stop.container, outcome: 'failed', reason });
    }
  }
  if (ready.length === 0) return;
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + DRAIN_GRACE_IN_MS));
  // One at a time, in order: a removed service's dependents stop before what they depend on.
  for (const stop of ready) {
    const vm = access.get(stop.vm);
    try {
      if (!vm) throw new Error(`VM "${stop.vm}" is not reachable`);
      const stopped = yield* resultOf(activityTask(context, A.stopContainer, { vm, service: stop.service, container: stop.container }));
      steps.push({ op, service: stop.service, vm: stop.vm, container: stop.container, outcome: stopped.removed ? 'removed' : 'absent' });
    } catch (e) {
      const reason = failureMessage(e);
      failures.push(`${op} ${stop.service} on "${stop.vm}": ${reason}`);
      steps.push({ op, service: stop.service, vm: stop.vm, container: stop.container, outcome: 'failed', reason });
    }
  }
}
