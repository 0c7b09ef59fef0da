/**
 * One VM of a boot (instance `boot-vm-<name>`, started by the boot through the durable client):
 * ensure the VM runs, ensure Docker, start the image builds of everything placed on it, report the
 * VM ready to the boot, then follow the builds and report each batch of images as it is done, so a
 * service starts as soon as its own image is built. A failure ends this VM's branch with its reason;
 * the root decides what it blocks.
 *
 * Builds run detached on the VM (startBuilds returns at once) and are polled by short activities
 * between durable timers (growing intervals up to a cap, platform/build-poll.ts): a build of minutes holds no
 * activity slot of the function app. One poll asks for every running build of the VM, and the loop
 * yields one task at a time, so nothing is listed twice (see boot-platform.ts).
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  type ArmTarget,
  type BuildProgress,
  type EnsureVmInput,
  type PollBuildsInput,
  type PreparedImage,
  type RegisterVmInput,
  type StartBuildsInput,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import { BUILD_POLL, nextPollDelay } from '../platform/build-poll.js';
import type { VmSpec } from '../platform/topology.js';
import { callArmActivity, failureMessage, isoAt, reportTo, settleAll, transientRetry, type BootNotify } from './tasks.js';
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
}

export type ImageOutcome = { step: string; ok: true; image: PreparedImage } | { step: string; ok: false; reason: string };

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
    };

export const bootVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootVmInput>();
  const startedAt = context.df.currentUtcDateTime.getTime();
  const run = input.notify?.run ?? `${context.df.instanceId}:${isoAt(context)}`;
  let ready: BootVmOutput;
  let running: Array<Extract<BuildProgress, { state: 'running' }>> = [];
  try {
    ({ ready, running } = yield* prepareVm(context, input, run));
  } catch (e) {
    ready = { vm: input.vm.name, ok: false, step: 'provision', reason: failureMessage(e) };
  }
  if (ready.ok && running.length > 0) ready.building = running.map((b) => b.step);
  if (input.notify) yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'vm', name: input.vm.name, output: ready });
  if (!ready.ok || running.length === 0) return ready;

  const images = [...ready.images];
  yield* followBuilds(context, input, ready.access, running, startedAt + (input.buildTimeoutInMs ?? BUILD_POLL.timeoutInMs), function* (done, last) {
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
): Generator<Task, { ready: BootVmOutput; running: Array<Extract<BuildProgress, { state: 'running' }>> }, unknown> {
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
  try {
    yield* callWithRetry(context, A.ensureDocker, transientRetry, { vm: access });
  } catch (e) {
    return failed('docker', failureMessage(e));
  }
  context.df.setCustomStatus({ vm: name, state: 'building' });
  // The VM's record and the start of its builds side by side: one dispatch fewer on every VM's chain.
  const register = activityTask(context, A.registerVm, { vm: info, dockerReady: true, at: isoAt(context) } satisfies RegisterVmInput);
  const tasks: Task[] = [register];
  if (input.steps.length > 0) tasks.push(activityTaskWithRetry(context, A.startBuilds, transientRetry, { vm: access, run, builds: input.steps } satisfies StartBuildsInput));
  const [registered, started] = yield* settleAll<unknown>(context, tasks);
  if (!registered!.ok) return failed('provision', registered!.error);
  const images: ImageOutcome[] = [];
  const running: Array<Extract<BuildProgress, { state: 'running' }>> = [];
  if (started && !started.ok) {
    for (const s of input.steps) images.push({ step: s.step, ok: false, reason: `the builds on VM "${name}" could not start: ${started.error}` });
  } else if (started) {
    for (const b of started.value as BuildProgress[]) {
      if (b.state === 'running') running.push(b);
      else images.push(outcomeOf(b));
    }
  }
  return { ready: { vm: name, ok: true, info, access, images }, running };
}

function outcomeOf(b: Exclude<BuildProgress, { state: 'running' }>): ImageOutcome {
  return b.state === 'built' ? { step: b.step, ok: true, image: b.image } : { step: b.step, ok: false, reason: b.reason };
}

/**
 * Polls the running builds until each is done or the deadline passes; hands each batch of finished
 * ones to `report` (the last batch with `last`). A poll that fails (the VM unreachable for a while)
 * is tried again at the next interval; its error is named if the deadline passes.
 */
function* followBuilds(
  context: OrchestrationContext,
  input: BootVmInput,
  vm: VmAccess,
  running: Array<Extract<BuildProgress, { state: 'running' }>>,
  deadline: number,
  report: (done: ImageOutcome[], last: boolean) => Generator<Task, void, unknown>,
): Generator<Task, void, unknown> {
  let open = running;
  let delay: number = BUILD_POLL.firstDelayInMs;
  let pollError: string | undefined;
  for (let round = 1; ; round++) {
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= deadline) {
      const minutes = Math.round((input.buildTimeoutInMs ?? BUILD_POLL.timeoutInMs) / 60_000);
      const done = open.map((b) => ({
        step: b.step,
        ok: false as const,
        reason:
          `the build of ${b.image} on VM "${vm.name}" did not finish within ${minutes} min` +
          `${pollError ? ` (last poll: ${pollError})` : ''}; read its log with \`bootstrap-cli logs ${b.step} --build\``,
      }));
      yield* report(done, true);
      return;
    }
    yield context.df.createTimer(new Date(Math.min(now + delay, deadline)));
    delay = nextPollDelay(delay);
    let polled: BuildProgress[];
    try {
      polled = yield* callWithRetry(context, A.pollBuilds, transientRetry, {
        vm,
        round,
        builds: open.map((b) => ({ step: b.step, image: b.image, version: b.version })),
      } satisfies PollBuildsInput);
    } catch (e) {
      pollError = failureMessage(e);
      continue;
    }
    const done: ImageOutcome[] = [];
    const still: typeof open = [];
    for (const b of polled) {
      if (b.state === 'running') still.push(b);
      else done.push(outcomeOf(b));
    }
    open = still;
    if (open.length === 0) {
      yield* report(done, true);
      return;
    }
    if (done.length > 0) yield* report(done, false);
  }
}
