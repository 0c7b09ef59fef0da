/**
 * The root orchestration (`boot`): bring every VM up in parallel (one orchestration each), start
 * Kafka, start each service as soon as its VM is ready and everything it depends on runs, the
 * monitoring service after all others, and report what came up, what failed and what it blocked.
 *
 * Why events: the boot must react to whichever VM or step finishes next, many times over. With the
 * JS SDK the only way to wait on "the next of N tasks in flight" is a Task.any over them, and doing
 * that a second time lists the unfinished ones again: on Azure the extension then schedules them
 * again and can hand one task's result to another (azure-functions-durable-js#574). So the boot
 * starts each unit of work (a `bootVm` per VM, a `bootStep` per service and for Kafka) through the
 * durable client in an activity, and each unit raises a `bootProgress` event to the boot when it is
 * done. The boot waits with a fresh waitForExternalEvent each time: events take no sequence id, every
 * activity is scheduled once, and reports that arrive together are handled in one replay. The
 * history stays short: one start activity per batch and one event per unit, plus one per batch of
 * images a VM's builds finish after its ready report (a service starts once its own image is there).
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  O,
  type CodeVersion,
  type EventInput,
  type PreparedImage,
  type StartInstancesInput,
  type StartKafkaInput,
  type StartServiceInput,
  type StartedService,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import { BootState, type Failure } from '../platform/boot-state.js';
import { bootStepId, bootVmId } from '../platform/ids.js';
import { planTopology } from '../platform/plan.js';
import { kafkaPorts } from '../platform/kafka-ports.js';
import { KAFKA } from '../platform/topology.js';
import type { BootStepInput } from './boot-step.js';
import type { BootVmInput } from './boot-vm.js';
import type { ImageOutcome } from './build-images.js';
import type { WatchdogInput } from './watchdog.js';
import { BOOT_PROGRESS, isoAt, settleAll, transientRetry, type BootNotify, type BootReport } from './tasks.js';
import { activityTask, activityTaskWithRetry, call, nextEvent } from './calls.js';

export interface BootInput {
  requestedBy?: string;
}

export interface BootOutput {
  status: 'succeeded' | 'partial' | 'failed';
  vms: Array<{ name: string; status: 'running' | 'failed'; publicIp?: string; privateIp?: string; powerState?: string }>;
  services: Array<{
    name: string;
    kind: string;
    vm: string;
    status: string;
    host?: string;
    port?: number;
    startedAt?: string;
    blockedBy?: string;
  }>;
  failures: Failure[];
}


export const bootPlatform: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootInput | undefined>() ?? {};
  const operationId = context.df.instanceId;
  const bootedAt = isoAt(context);
  const { topology } = (yield* call(context, A.readDesiredState));
  const plan = planTopology(topology);
  const state = new BootState(plan);
  const event = (e: Omit<EventInput, 'id' | 'operationId' | 'at'>, suffix: string): Task =>
    activityTask(context, A.recordEvent, { ...e, id: `${operationId}:${bootedAt}:${suffix}`, operationId, at: isoAt(context) } satisfies EventInput);

  yield event({ target: 'platform', targetKind: 'platform', type: 'boot', outcome: 'started', requestedBy: input.requestedBy }, 'start');

  const azure = { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location };
  // Looked up by name (a find per step would make each replay quadratic in the platform's size).
  const specs = new Map(topology.services.map((s) => [s.name, s]));
  const sourceOf = (step: string): string => (step === KAFKA ? topology.kafka!.source : specs.get(step)!.source);
  const vmOfStep = (step: string): string => (step === KAFKA ? topology.kafka!.vm : specs.get(step)!.vm);
  /**
   * The custom status is what the last episode set; building it walks every step, so replayed
   * iterations skip it (the episode's new events always run the code again up to the next wait).
   */
  const showProgress = (): void => {
    if (!context.df.isReplaying) context.df.setCustomStatus(state.progress('starting'));
  };

  const notify: BootNotify = { instanceId: operationId, run: `${operationId}:${bootedAt}` };
  /** Units started and not yet reported, as `vm:<name>` / `step:<name>`. */
  const pending = new Set<string>();

  // The resource group, and the version of each code folder (once per boot, not once per build),
  // side by side: neither waits for the other.
  const sources = [...new Set([...(topology.kafka ? [topology.kafka.source] : []), ...topology.services.map((s) => s.source)])];
  const [group, versioned] = yield* settleAll<unknown>(context, [
    activityTaskWithRetry(context, A.ensureResourceGroup, transientRetry, { azure }),
    activityTaskWithRetry(context, A.codeVersions, transientRetry, { sources }),
  ]);
  if (!group!.ok) {
    // Without its resource group no VM can exist: every VM fails with this reason.
    for (const vm of topology.vms) state.vmFailed(vm.name, 'resource group', group!.error);
  }
  // A folder without a version here is versioned by its builds, which report what is wrong.
  const versionOf = new Map<string, string>();
  if (versioned!.ok && Array.isArray(versioned!.value)) for (const v of versioned!.value as CodeVersion[]) if ('version' in v) versionOf.set(v.source, v.version);
  const vmStarts: StartInstancesInput['instances'] = [];
  const vmNames: string[] = [];
  for (const vm of topology.vms) {
    if (state.vm(vm.name) === 'failed') continue;
    state.vmProvisioning(vm.name);
    const vmInput: BootVmInput = {
      azure,
      vm,
      steps: state.stepsOn(vm.name).map((step) => {
        const source = sourceOf(step);
        const version = versionOf.get(source);
        return { step, source, ...(version ? { version } : {}) };
      }),
      // The function app creates Kafka's topics over the broker's external listener.
      ...(topology.kafka?.vm === vm.name ? { inboundPorts: [kafkaPorts(topology.kafka.port).external] } : {}),
      notify,
    };
    vmStarts.push({ name: O.bootVm, instanceId: bootVmId(vm.name), input: vmInput });
    vmNames.push(vm.name);
  }
  if (vmStarts.length > 0) {
    showProgress();
    const results = yield* call(context, A.startInstances, { instances: vmStarts });
    results.forEach((r, i) => {
      const vm = vmNames[i]!;
      if (r.started) pending.add(`vm:${vm}`);
      else state.vmFailed(vm, 'provision', `not started: ${r.reason}`);
    });
  }

  const access = new Map<string, VmAccess>();
  const vmInfo = new Map<string, VmInfo>();
  const images = new Map<string, PreparedImage>();
  const running = new Map<string, StartedService>();
  /** VMs whose last build was reported. */
  const imagesDone = new Set<string>();
  const applyImages = (outcomes: ImageOutcome[]): void => {
    for (const img of outcomes) {
      if (img.ok) images.set(img.step, img.image);
      else state.stepFailed(img.step, 'build', img.reason);
    }
  };

  for (;;) {
    const stepStarts: StartInstancesInput['instances'] = [];
    const steps: string[] = [];
    for (const step of state.ready((s) => images.has(s))) {
      state.starting(step);
      const vm = vmOfStep(step);
      const image = images.get(step)!;
      const stepInput: BootStepInput = { step, notify };
      if (step === KAFKA) {
        stepInput.kafka = {
          vm: access.get(vm)!,
          kafka: { port: topology.kafka!.port, topics: topology.kafka!.topics },
          image: image.image,
          version: image.version,
          operationId,
        } satisfies StartKafkaInput;
      } else {
        const spec = specs.get(step)!;
        stepInput.service = {
          vm: access.get(vm)!,
          service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
          image: image.image,
          version: image.version,
          operationId,
          monitoring: spec.role === 'monitoring',
        } satisfies StartServiceInput;
      }
      stepStarts.push({ name: O.bootStep, instanceId: bootStepId(step), input: stepInput });
      steps.push(step);
    }
    if (stepStarts.length > 0) {
      showProgress();
      const results = yield* call(context, A.startInstances, { instances: stepStarts });
      let refused = false;
      results.forEach((r, i) => {
        const step = steps[i]!;
        if (r.started) pending.add(`step:${step}`);
        else {
          state.stepFailed(step, 'start', `not started: ${r.reason}`);
          refused = true;
        }
      });
      // A refused step blocks its dependents; look again at what is ready.
      if (refused) continue;
    }
    if (pending.size === 0) break;
    showProgress();

    const report = yield* nextEvent<BootReport>(context, BOOT_PROGRESS);
    // A report of an earlier boot's unit (still finishing when this boot began) is not ours.
    if (report.run !== notify.run) continue;
    if (report.kind === 'images') {
      // A VM's images as their builds finish (each service starts as soon as its own is there).
      // Queues need not keep order: a batch may come before the VM's ready report.
      if (imagesDone.has(report.name)) continue;
      applyImages(report.images);
      if (report.last) {
        imagesDone.add(report.name);
        pending.delete(`images:${report.name}`);
      }
      continue;
    }
    if (!pending.delete(`${report.kind}:${report.name}`)) continue;
    if (report.kind === 'vm') {
      const result = report.output;
      if (!result.ok) {
        state.vmFailed(report.name, result.step, result.reason);
        continue;
      }
      access.set(report.name, result.access);
      vmInfo.set(report.name, result.info);
      state.vmReady(report.name);
      applyImages(result.images);
      if ((result.building?.length ?? 0) > 0 && !imagesDone.has(report.name)) pending.add(`images:${report.name}`);
    } else {
      const result = report.output;
      if (!result.ok) state.stepFailed(report.name, 'start', result.reason);
      else {
        state.running(report.name);
        running.set(report.name, result.started);
      }
    }
  }

  // From here on every episode sets the status (the loop's replayed iterations did not).
  context.df.setCustomStatus(state.progress('starting'));
  const failures = state.failures();
  const output: BootOutput = {
    status: failures.length === 0 ? 'succeeded' : running.size > 0 ? 'partial' : 'failed',
    vms: topology.vms.map((vm) => {
      const info = vmInfo.get(vm.name);
      return info
        ? { name: vm.name, status: 'running', publicIp: info.publicIp, privateIp: info.privateIp, powerState: info.powerState }
        : { name: vm.name, status: 'failed' };
    }),
    services: [...(topology.kafka ? [{ name: KAFKA, kind: 'broker', vm: topology.kafka.vm }] : []), ...topology.services].map((s) => {
      const run = running.get(s.name);
      const blockedBy = state.blockedReason(s.name);
      return {
        name: s.name,
        kind: s.kind,
        vm: s.vm,
        status: state.state(s.name) ?? 'pending',
        ...(run ? { host: run.host, port: run.port, startedAt: run.startedAt } : {}),
        ...(blockedBy ? { blockedBy } : {}),
      };
    }),
    failures,
  };

  for (const f of failures) {
    yield event(
      { target: f.target, targetKind: f.kind, type: 'failure', outcome: 'failed', reason: `${f.step}: ${f.reason}` },
      `failure:${f.kind}:${f.target}`,
    );
  }
  const monitoring = plan.services.find((s) => s.monitoring);
  if (monitoring && state.state(monitoring.name) === 'running') {
    // The watchdog is an independent, eternal instance: an activity starts it through the client.
    const spec = topology.services.find((s) => s.name === monitoring.name)!;
    const watch: WatchdogInput = {
      service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
      vm: access.get(spec.vm)!,
      intervalInMs: topology.settings.watchdog.intervalInMs,
      failuresBeforeRestart: topology.settings.watchdog.failuresBeforeRestart,
    };
    yield* call(context, A.startWatchdog, watch);
  }
  yield event(
    {
      target: 'platform',
      targetKind: 'platform',
      type: 'boot',
      outcome: output.status === 'succeeded' ? 'succeeded' : 'failed',
      reason: failures.length ? `${failures.length} failure(s)` : undefined,
    },
    'end',
  );
  context.df.setCustomStatus(state.progress('finished'));
  return output;
};
