/**
 * One VM of a boot (instance `boot-vm-<name>`, started by the boot through the durable client):
 * ensure the VM runs, ensure Docker, prepare the images of everything placed on it, then report to
 * the boot with an event. A failure ends this VM's branch with its reason; the root decides what it
 * blocks.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  A,
  type ArmTarget,
  type EnsureVmInput,
  type PrepareImageInput,
  type PreparedImage,
  type RegisterVmInput,
  type VmAccess,
  type VmInfo,
} from '../activities/contracts.js';
import type { VmSpec } from '../platform/topology.js';
import { callArmActivity, failureMessage, reportTo, settleAll, transientRetry, type BootNotify } from './tasks.js';
import { activityTask, callWithRetry } from './calls.js';

export interface BootVmInput {
  azure: ArmTarget;
  vm: VmSpec;
  /** Steps placed on this VM, the folder of their code and its version when the boot computed it. */
  steps: Array<{ step: string; source: string; version?: string }>;
  inboundPorts?: number[];
  /** The boot waiting for this VM's report. */
  notify?: BootNotify;
}

export type BootVmOutput =
  | { vm: string; ok: false; step: 'provision' | 'docker'; reason: string }
  | {
      vm: string;
      ok: true;
      info: VmInfo;
      access: VmAccess;
      images: Array<{ step: string; ok: true; image: PreparedImage } | { step: string; ok: false; reason: string }>;
    };

export const bootVm: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootVmInput>();
  let output: BootVmOutput;
  try {
    output = yield* prepareVm(context, input);
  } catch (e) {
    output = { vm: input.vm.name, ok: false, step: 'provision', reason: failureMessage(e) };
  }
  if (input.notify) yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'vm', name: input.vm.name, output });
  return output;
};

function* prepareVm(context: OrchestrationContext, input: BootVmInput): Generator<Task, BootVmOutput, unknown> {
  const name = input.vm.name;
  let info: VmInfo;
  try {
    info = yield* callArmActivity(context, A.ensureVm, { azure: input.azure, vm: input.vm, inboundPorts: input.inboundPorts } satisfies EnsureVmInput);
  } catch (e) {
    return { vm: name, ok: false, step: 'provision', reason: failureMessage(e) } satisfies BootVmOutput;
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
    return { vm: name, ok: false, step: 'docker', reason: failureMessage(e) } satisfies BootVmOutput;
  }
  context.df.setCustomStatus({ vm: name, state: 'building' });
  // The VM's record and its builds side by side: one dispatch fewer on every VM's chain.
  const register = activityTask(context, A.registerVm, { vm: info, dockerReady: true, at: context.df.currentUtcDateTime.toISOString() } satisfies RegisterVmInput);
  const builds = input.steps.map(({ step, source, version }) =>
    activityTask(context, A.prepareImage, { vm: access, step, source, ...(version ? { version } : {}) } satisfies PrepareImageInput),
  );
  const [registered, ...settled] = yield* settleAll<unknown>(context, [register, ...builds]);
  if (!registered!.ok) return { vm: name, ok: false, step: 'provision', reason: registered!.error } satisfies BootVmOutput;
  const images = (settled as Array<{ ok: true; value: PreparedImage } | { ok: false; error: string }>).map((r, i) =>
    r.ok ? { step: input.steps[i]!.step, ok: true as const, image: r.value } : { step: input.steps[i]!.step, ok: false as const, reason: r.error },
  );
  return { vm: name, ok: true, info, access, images } satisfies BootVmOutput;
}
