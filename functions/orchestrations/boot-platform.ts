/**
 * The root orchestration (`boot`): bring every VM up in parallel (one sub-orchestration each), start
 * Kafka, start each service as soon as its VM is ready and everything it depends on runs, the
 * monitoring service after all others, and report what came up, what failed and what it blocked.
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
  type VmInfo,
} from '../activities/contracts.js';
import { BootState, type Failure } from '../platform/boot-state.js';
import { bootVmId } from '../platform/ids.js';
import { planTopology } from '../platform/plan.js';
import { kafkaPorts } from '../platform/kafka-ports.js';
import { KAFKA, type Topology } from '../platform/topology.js';
import type { BootVmInput, BootVmOutput } from './boot-vm.js';
import type { WatchdogInput } from './watchdog.js';
import { failureMessage, isoAt, nextDone, transientRetry } from './tasks.js';

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

interface InFlight {
  task: Task;
  kind: 'vm' | 'step';
  name: string;
}

export const bootPlatform: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootInput | undefined>() ?? {};
  const operationId = context.df.instanceId;
  const bootedAt = isoAt(context);
  const { topology } = (yield context.df.callActivity(A.readDesiredState)) as { topology: Topology };
  const plan = planTopology(topology);
  const state = new BootState(plan);
  const event = (e: Omit<EventInput, 'id' | 'operationId' | 'at'>, suffix: string): Task =>
    context.df.callActivity(A.recordEvent, { ...e, id: `${operationId}:${bootedAt}:${suffix}`, operationId, at: isoAt(context) } satisfies EventInput);

  yield event({ target: 'platform', targetKind: 'platform', type: 'boot', outcome: 'started', requestedBy: input.requestedBy }, 'start');

  const azure = { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location };
  const sourceOf = (step: string): string =>
    step === KAFKA ? topology.kafka!.source : topology.services.find((s) => s.name === step)!.source;

  const inflight: InFlight[] = [];
  try {
    yield context.df.callActivityWithRetry(A.ensureResourceGroup, transientRetry, { azure });
  } catch (e) {
    // Without its resource group no VM can exist: every VM fails with this reason.
    const reason = failureMessage(e);
    for (const vm of topology.vms) state.vmFailed(vm.name, 'resource group', reason);
  }
  for (const vm of topology.vms) {
    if (state.vm(vm.name) === 'failed') continue;
    state.vmProvisioning(vm.name);
    const vmInput: BootVmInput = {
      azure,
      vm,
      steps: state.stepsOn(vm.name).map((step) => ({ step, source: sourceOf(step) })),
      // The function app creates Kafka's topics over the broker's external listener.
      ...(topology.kafka?.vm === vm.name ? { inboundPorts: [kafkaPorts(topology.kafka.port).external] } : {}),
    };
    inflight.push({ kind: 'vm', name: vm.name, task: context.df.callSubOrchestrator(O.bootVm, vmInput, bootVmId(vm.name)) });
  }

  const access = new Map<string, VmAccess>();
  const vmInfo = new Map<string, VmInfo>();
  const images = new Map<string, PreparedImage>();
  const running = new Map<string, StartedService>();

  for (;;) {
    for (const step of state.ready((s) => images.has(s))) {
      state.starting(step);
      const vm = step === KAFKA ? topology.kafka!.vm : plan.services.find((s) => s.name === step)!.vm;
      const image = images.get(step)!;
      let task: Task;
      if (step === KAFKA) {
        const kafkaInput: StartKafkaInput = {
          vm: access.get(vm)!,
          kafka: { port: topology.kafka!.port, topics: topology.kafka!.topics },
          image: image.image,
          version: image.version,
          operationId,
        };
        task = context.df.callActivity(A.startKafka, kafkaInput);
      } else {
        const spec = topology.services.find((s) => s.name === step)!;
        const serviceInput: StartServiceInput = {
          vm: access.get(vm)!,
          service: { name: spec.name, kind: spec.kind, port: spec.port, env: spec.env, secretEnv: spec.secretEnv, health: spec.health },
          image: image.image,
          version: image.version,
          operationId,
          monitoring: spec.role === 'monitoring',
        };
        task = context.df.callActivity(A.startService, serviceInput);
      }
      inflight.push({ kind: 'step', name: step, task });
    }
    context.df.setCustomStatus(state.progress('starting'));
    if (inflight.length === 0) break;

    const done = yield* nextDone(context, inflight.map((f) => f.task));
    const entry = inflight.splice(inflight.findIndex((f) => f.task === done), 1)[0]!;
    if (entry.kind === 'vm') {
      if (done.isFaulted) {
        state.vmFailed(entry.name, 'provision', failureMessage(done.result));
        continue;
      }
      const result = done.result as BootVmOutput;
      if (!result.ok) {
        state.vmFailed(entry.name, result.step, result.reason);
        continue;
      }
      access.set(entry.name, result.access);
      vmInfo.set(entry.name, result.info);
      state.vmReady(entry.name);
      for (const img of result.images) {
        if (img.ok) images.set(img.step, img.image);
        else state.stepFailed(img.step, 'build', img.reason);
      }
    } else if (done.isFaulted) {
      state.stepFailed(entry.name, 'start', failureMessage(done.result));
    } else {
      state.running(entry.name);
      running.set(entry.name, done.result as StartedService);
    }
  }

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
    yield context.df.callActivity(A.startWatchdog, watch);
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
