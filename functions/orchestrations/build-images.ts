/**
 * Image builds on one VM without holding the function app (instance `<parent>-build-<vm>-<n>`, a
 * sub-orchestration of whoever needs images: a service restart, a VM restart, the reconcile).
 * The builds are started detached on the VM by one short activity and polled by short activities
 * between durable timers (platform/build-poll.ts); a build of minutes holds no activity slot. The
 * boot's per-VM orchestration follows its builds the same way (`followBuilds`), reporting each batch
 * as it is done. Outcomes, never errors: a failed build names itself and where its log is.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { A, O, type BuildProgress, type PollBuildsInput, type PreparedImage, type StartBuildsInput, type VmAccess } from '../activities/contracts.js';
import { BUILD_POLL, nextPollDelay } from '../platform/build-poll.js';
import { failureMessage, transientRetry } from './tasks.js';
import { callWithRetry, type TypedTask } from './calls.js';

export type ImageOutcome = { step: string; ok: true; image: PreparedImage } | { step: string; ok: false; reason: string };
export type RunningBuild = Extract<BuildProgress, { state: 'running' }>;

export interface BuildImagesInput {
  vm: VmAccess;
  /** The run asking (its instance and start): a build that failed for this run is reported again, not retried. */
  run: string;
  builds: StartBuildsInput['builds'];
  /** How long a build may run on the VM before it is reported failed (default BUILD_POLL.timeoutInMs). */
  timeoutInMs?: number;
}

export const buildImagesId = (parentId: string, vm: string, n: number): string => `${parentId}-build-${vm}-${n}`;

/** The sub-orchestration that builds `input.builds` on its VM; its result is one outcome per build. */
export function buildImagesTask(context: OrchestrationContext, input: BuildImagesInput, n: number): TypedTask<ImageOutcome[]> {
  return context.df.callSubOrchestrator(O.buildImages, input, buildImagesId(context.df.instanceId, input.vm.name, n));
}

export const buildImages: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BuildImagesInput>();
  const deadline = context.df.currentUtcDateTime.getTime() + (input.timeoutInMs ?? BUILD_POLL.timeoutInMs);
  let started: BuildProgress[];
  try {
    started = yield* callWithRetry(context, A.startBuilds, transientRetry, { vm: input.vm, run: input.run, builds: input.builds } satisfies StartBuildsInput);
  } catch (e) {
    const reason = `the builds on VM "${input.vm.name}" could not start: ${failureMessage(e)}`;
    return input.builds.map((b) => ({ step: b.step, ok: false, reason })) satisfies ImageOutcome[];
  }
  const outcomes: ImageOutcome[] = [];
  const running: RunningBuild[] = [];
  for (const b of started) {
    if (b.state === 'running') running.push(b);
    else outcomes.push(outcomeOf(b));
  }
  if (running.length > 0) {
    yield* followBuilds(context, input.vm, running, deadline, input.timeoutInMs ?? BUILD_POLL.timeoutInMs, function* (done) {
      outcomes.push(...done);
    });
  }
  return outcomes;
};

export function outcomeOf(b: Exclude<BuildProgress, { state: 'running' }>): ImageOutcome {
  return b.state === 'built' ? { step: b.step, ok: true, image: b.image } : { step: b.step, ok: false, reason: b.reason };
}

/**
 * Polls the running builds until each is done or the deadline passes; hands each batch of finished
 * ones to `report` (the last batch with `last`). A poll that fails (the VM unreachable for a while)
 * is tried again at the next interval; its error is named if the deadline passes. One task is
 * yielded at a time, so nothing is listed twice.
 */
export function* followBuilds(
  context: OrchestrationContext,
  vm: VmAccess,
  running: RunningBuild[],
  deadline: number,
  timeoutInMs: number,
  report: (done: ImageOutcome[], last: boolean) => Generator<Task, void, unknown>,
): Generator<Task, void, unknown> {
  let open = running;
  let delay: number = BUILD_POLL.firstDelayInMs;
  let pollError: string | undefined;
  for (let round = 1; ; round++) {
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= deadline) {
      const minutes = Math.round(timeoutInMs / 60_000);
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
    const still: RunningBuild[] = [];
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
