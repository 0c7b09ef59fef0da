/**
 * One VM of a boot (instance `boot-vm-<name>`, started by the boot through the durable client):
 * ensure the VM runs, ensure Docker, start the image builds of everything placed on it, report the
 * VM ready to the boot, then follow the builds and report each batch of images as it is done, so a
 * service starts as soon as its own image is built. A failure ends this VM's branch with its reason;
 * the root decides what it blocks.
 *
 * Builds run detached on the VM (startBuilds returns at once) and are followed as every build is
 * (orchestrations/build-images.ts): polls between durable timers, one for all of the VM's builds.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  type AdoptServicesInput,
  type ArmTarget,
  type BuildProgress,
  type EnsureVmInput,
  type RegisterVmInput,
  type StartBuildsInput,
  type StartedService,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import { BUILD_POLL } from '../platform/build-poll.js';
import { followBuilds, outcomeOf, type ImageOutcome } from './build-images.js';
import type { VmSpec } from '../platform/topology.js';
import { callArmActivity, failureMessage, isoAt, reportTo, settleAll, transientRetry, type BootNotify, type Settled } from './tasks.js';
import { activityTask, activityTaskWithRetry, callWithRetry } from './calls.js';

export interface BootVmInput {
  azure: ArmTarget;
  vm: VmSpec;
  /** Steps placed on this VM, the folder of their code and its version when the boot computed it. */
  steps: Array<{ step: string; source: string; version?: string }>;
  inboundPorts?: number[];
  /** The boot waiting for this VM's report. */
  notify?: BootNotify;
  /** How long a build may run on the VM before it is reported failed (default BUILD_POLL.timeoutInMs). */
  buildTimeoutInMs?: number;
  /**
   * Services of this VM to take as running if they already run as wanted and answer (a healthy
   * re-boot): looked at beside the builds' start on a VM that existed, so their dependents need not
   * wait for them one level at a time.
   */
  adopt?: AdoptServicesInput['services'];
}

export type { ImageOutcome } from './build-images.js';

export type BootVmOutput =
  | { vm: string; ok: false; step: 'provision' | 'docker'; reason: string }
  | {
      vm: string;
      ok: true;
      info: VmInfo;
      access: VmAccess;
      /** Images done (built or failed). In the ready report, those done when the VM became ready. */
      images: ImageOutcome[];
      /** Steps whose build still runs: their outcomes follow in `images` reports (none in the final output). */
      building?: string[];
      /** Services found running as wanted and healthy (of `adopt`), registered: nothing to start. */
      adopted?: StartedService[];
      /** The look at its services still runs (the VM was ready first): an `adopted` report follows. */
      looking?: boolean;
    };

export const bootVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootVmInput>();
  const startedAt = context.df.currentUtcDateTime.getTime();
  const run = input.notify?.run ?? `${context.df.instanceId}:${isoAt(context)}`;
  let ready: BootVmOutput;
  let running: Array<Extract<BuildProgress, { state: 'running' }>> = [];
  let look: Task | undefined;
  try {
    ({ ready, running, look } = yield* prepareVm(context, input, run));
  } catch (e) {
    ready = { vm: input.vm.name, ok: false, step: 'provision', reason: failureMessage(e) };
  }
  if (ready.ok && running.length > 0) ready.building = running.map((b) => b.step);
  if (ready.ok && look) ready.looking = true;
  if (input.notify) yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'vm', name: input.vm.name, output: ready });
  if (ready.ok && look) {
    // The VM was ready before its look: what it found follows (nothing, if the look failed).
    let adopted: StartedService[] = [];
    try {
      adopted = (yield look) as StartedService[];
    } catch {
      // Not adopted: the boot starts them in order, as on a first boot.
    }
    delete ready.looking;
    if (adopted.length > 0) ready.adopted = adopted;
    if (input.notify) yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'adopted', name: input.vm.name, adopted });
  }
  if (!ready.ok || running.length === 0) return ready;

  const images = [...ready.images];
  const timeoutInMs = input.buildTimeoutInMs ?? BUILD_POLL.timeoutInMs;
  yield* followBuilds(context, ready.access, running, startedAt + timeoutInMs, timeoutInMs, function* (done, last) {
    images.push(...done);
    if (input.notify) yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'images', name: input.vm.name, images: done, last });
  });
  const output: BootVmOutput = { ...ready, images };
  delete output.building;
  return output;
};

function* prepareVm(
  context: OrchestrationContext,
  input: BootVmInput,
  run: string,
): Generator<Task, { ready: BootVmOutput; running: Array<Extract<BuildProgress, { state: 'running' }>>; look?: Task }, unknown> {
  const name = input.vm.name;
  const failed = (step: 'provision' | 'docker', reason: string) => ({ ready: { vm: name, ok: false, step, reason } satisfies BootVmOutput, running: [] });
  let info: VmInfo;
  try {
    info = yield* callArmActivity(context, A.ensureVm, { azure: input.azure, vm: input.vm, inboundPorts: input.inboundPorts } satisfies EnsureVmInput);
  } catch (e) {
    return failed('provision', failureMessage(e));
  }
  const access: VmAccess = {
    name,
    host: info.publicIp,
    privateIp: info.privateIp,
    adminUser: input.vm.adminUser,
    sshKeySecret: input.vm.sshKeySecret,
  };
  context.df.setCustomStatus({ vm: name, state: 'docker' });
  const register = (dockerReady: boolean) => activityTask(context, A.registerVm, { vm: info, dockerReady, at: isoAt(context) } satisfies RegisterVmInput);
  const lookAt = () => activityTask(context, A.adoptServices, { vm: access, services: input.adopt! } satisfies AdoptServicesInput);
  const startBuilds = (builds: BootVmInput['steps']) => activityTaskWithRetry(context, A.startBuilds, transientRetry, { vm: access, run, builds } satisfies StartBuildsInput);
  // A VM just created runs nothing yet; one that was there may run services to adopt.
  const candidates = new Set(info.created ? [] : (input.adopt ?? []).map((s) => s.service.name));
  // Every step of the VM may be adopted: Docker's check, the VM's record and the look side by side
  // (the look changes nothing, and finds nothing where Docker does not answer; the record is
  // corrected in the rare case Docker fails), then builds only for what was not adopted (an
  // adopted service runs its image already). Else, as on a first boot, the builds start as soon as
  // Docker answers (Kafka's among them, on which the platform waits), beside the record and any look.
  const lookFirst = candidates.size > 0 && input.steps.every((s) => candidates.has(s.step));
  let registered: Settled;
  let started: Settled | undefined;
  let adopted: StartedService[] = [];
  let builds = input.steps;
  let pendingLook: Task | undefined;
  if (lookFirst) {
    const [docker, record, adoption] = yield* settleAll<unknown>(context, [activityTaskWithRetry(context, A.ensureDocker, transientRetry, { vm: access }), register(true), lookAt()]);
    if (!docker!.ok) {
      if (record!.ok) yield* settleAll(context, [register(false)]);
      return failed('docker', docker!.error);
    }
    registered = record!;
    if (!registered.ok) return failed('provision', registered.error);
    context.df.setCustomStatus({ vm: name, state: 'building' });
    // Not adopted (the look failed): the boot starts them in order, as on a first boot.
    adopted = adoption!.ok ? (adoption!.value as StartedService[]) : [];
    const taken = new Set(adopted.map((s) => s.service));
    builds = input.steps.filter((s) => !taken.has(s.step));
    if (builds.length > 0) [started] = yield* settleAll<unknown>(context, [startBuilds(builds)]);
  } else if (info.created) {
    try {
      yield* callWithRetry(context, A.ensureDocker, transientRetry, { vm: access });
    } catch (e) {
      return failed('docker', failureMessage(e));
    }
    context.df.setCustomStatus({ vm: name, state: 'building' });
    const [record, buildsStarted] = yield* settleAll<unknown>(context, [register(true), ...(builds.length > 0 ? [startBuilds(builds)] : [])]);
    registered = record!;
    started = buildsStarted;
  } else {
    // A VM that was there most likely runs Docker: its builds start beside Docker's check (once,
    // without retries: where Docker does not answer they fail at once, and start again after the
    // check), with the record and any look. The VM does not wait for the look to report ready:
    // Kafka's step (never adopted) can start meanwhile; what the look finds follows in its own report.
    const dockerTask = activityTaskWithRetry(context, A.ensureDocker, transientRetry, { vm: access });
    const tasks: Task[] = [dockerTask, register(true)];
    const buildsAt = builds.length > 0 ? tasks.push(activityTask(context, A.startBuilds, { vm: access, run, builds } satisfies StartBuildsInput)) - 1 : -1;
    const look = candidates.size > 0 ? lookAt() : undefined;
    const all = context.df.Task.all(tasks);
    if (look) yield context.df.Task.any([all, look]);
    const results = yield* settleAll<unknown>(context, tasks, all);
    const docker = results[0]!;
    registered = results[1]!;
    started = buildsAt >= 0 ? results[buildsAt] : undefined;
    if (!docker.ok) {
      if (registered.ok) yield* settleAll(context, [register(false)]);
      return failed('docker', docker.error);
    }
    context.df.setCustomStatus({ vm: name, state: 'building' });
    // Docker was not running (just installed), or the early start failed: start them now, as on a VM just created.
    if (registered.ok && started && (!started.ok || (docker.value as { installed: boolean }).installed)) [started] = yield* settleAll<unknown>(context, [startBuilds(builds)]);
    if (look?.isCompleted) adopted = look.result as StartedService[];
    else if (look && !look.isFaulted) pendingLook = look;
  }
  if (!registered.ok) return failed('provision', registered.error);
  const images: ImageOutcome[] = [];
  const running: Array<Extract<BuildProgress, { state: 'running' }>> = [];
  if (started && !started.ok) {
    for (const s of builds) images.push({ step: s.step, ok: false, reason: `the builds on VM "${name}" could not start: ${started.error}` });
  } else if (started) {
    for (const b of started.value as BuildProgress[]) {
      if (b.state === 'running') running.push(b);
      else images.push(outcomeOf(b));
    }
  }
  return { ready: { vm: name, ok: true, info, access, images, ...(adopted.length > 0 ? { adopted } : {}) }, running, ...(pendingLook ? { look: pendingLook } : {}) };
}
