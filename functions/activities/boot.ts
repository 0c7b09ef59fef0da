/**
 * The boot's two bookends, each one activity (one queue round trip on Azure):
 *   - prepareBoot: record the boot's start and read the desired state, then ensure the resource
 *     group, version every code folder and read the groups' ids side by side, split the platform into
 *     groups and start each group with its whole share as its input, so neither the root nor any
 *     group reads the topology again;
 *   - summarizeBoot: the boot's output from its groups' outputs, and the boot's end event with it.
 * Both are built from the activities they use (makePrepareBoot, makeSummarizeBoot), so the scaling
 * bench runs this very code over stub adapters.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { bootGroupId } from '../platform/ids.js';
import { bootGroupCount, bootGroups, codeSources } from '../platform/boot-groups.js';
import { describeShare, endedBeforeReport, endedShare, groupWord, mergeShares, type BootShare } from '../platform/boot-output.js';
import { Guard } from '../platform/guard.js';
import { BootState } from '../platform/boot-state.js';
import { planTopology } from '../platform/plan.js';
import { KAFKA, type Topology } from '../platform/topology.js';
import { statusOf, isActive } from '../durable-client.js';
import { O, type Activities, type GroupSettled, type GroupsSettledInput, type PrepareBootInput, type PreparedBoot, type StartInstancesInput, type SummarizeBootInput } from './contracts.js';
import { INSTANCE_CALLS_AT_ONCE, startInstances } from './instances.js';
import { mapLimit } from '../platform/map-limit.js';
import type { BootGroupInput } from '../orchestrations/boot-group.js';

type Handler<K extends keyof Activities> = (input: Activities[K]['input'], context: InvocationContext) => Promise<Activities[K]['output']>;

export interface PrepareBootParts {
  readDesiredState: Handler<'readDesiredState'>;
  ensureResourceGroup: Handler<'ensureResourceGroup'>;
  codeVersions: Handler<'codeVersions'>;
  recordEvent: Handler<'recordEvent'>;
}

export function makePrepareBoot(parts: PrepareBootParts): Handler<'prepareBoot'> {
  return async (input: PrepareBootInput, context: InvocationContext): Promise<PreparedBoot> => {
    // The boot's start event beside the read (its id is the boot's: a second run records it once).
    // An event that cannot be recorded does not hold the boot up.
    const [desired] = await Promise.all([
      parts.readDesiredState(undefined, context),
      parts
        .recordEvent({ ...input.start, target: 'platform', targetKind: 'platform', type: 'boot', outcome: 'started' }, context)
        .catch((e: unknown) => context.warn(`the boot's start event was not recorded: ${(e as Error).message}`)),
    ]);
    const { topology } = desired;
    const azure = { subscriptionId: topology.azure.subscriptionId, resourceGroup: topology.azure.resourceGroup, location: topology.azure.location };
    const sources = codeSources(topology);
    const client = df.getClient(context);
    const ids = Array.from({ length: bootGroupCount(topology, { groupVms: input.groupVms }) }, (_, i) => bootGroupId(i));
    // The resource group, the code versions and the groups' ids as they stand, side by side.
    const [group, versioned, current] = await Promise.allSettled([
      withRetries(() => parts.ensureResourceGroup({ azure }, context)),
      parts.codeVersions({ sources }, context),
      mapLimit(ids, INSTANCE_CALLS_AT_ONCE, (id) => statusOf(client, id)),
    ]);
    if (group.status === 'rejected') return { state: 'failed', output: withoutResourceGroup(topology, (group.reason as Error).message) };
    if (current.status === 'rejected') throw current.reason;
    // A group id an earlier boot's group still holds would leave steps waiting for a group that never
    // reports: refuse before starting any (a group of this very run is this activity's second run).
    ids.forEach((id, n) => {
      const c = current.value[n];
      if (isActive(c) && (c!.input as Partial<BootGroupInput> | undefined)?.notify?.run !== input.notify.run) {
        throw new Error(`the boot's group '${id}' of an earlier boot is still ${c!.runtimeStatus}: wait for it to finish or terminate it, then boot again`);
      }
    });
    // A folder without a version here is versioned by its builds, which report what is wrong.
    const versions = new Map<string, string>();
    if (versioned.status === 'fulfilled') for (const v of versioned.value) if ('version' in v) versions.set(v.source, v.version);

    const split = bootGroups(topology, versions, { groupVms: input.groupVms });
    const instances: StartInstancesInput['instances'] = split.groups.map((slice) => ({
      name: O.bootGroup,
      instanceId: bootGroupId(slice.index),
      input: { slice, notify: input.notify, operationId: input.operationId } satisfies BootGroupInput,
    }));
    const started = await startInstances({ instances }, context);
    const refused = started.find((s) => !s.started);
    if (refused && !refused.started) throw new Error(`could not start the boot's group '${refused.instanceId}': ${refused.reason}`);
    return { state: 'started', groups: split.groups.length, ...(split.monitoring ? { monitoring: split.monitoring } : {}), watchdog: split.watchdog, totals: split.totals };
  };
}

/** The resource group's call, again after 2 s and 4 s (what transientRetry gave it as its own activity). */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 1_000 * 2 ** attempt));
    }
  }
}

/** Every VM failed for want of its resource group, and everything on them with it. */
function withoutResourceGroup(topology: Topology, reason: string) {
  const plan = planTopology(topology);
  const state = new BootState(plan);
  for (const vm of plan.vms) state.vmFailed(vm, 'resource group', reason);
  const steps = [
    ...(topology.kafka ? [{ step: KAFKA, kind: 'broker', vm: topology.kafka.vm, order: 0 }] : []),
    ...topology.services.map((s, i) => ({ step: s.name, kind: s.kind, vm: s.vm, order: i + 1 })),
  ];
  return mergeShares([describeShare({ state, vms: plan.vms, steps, vmInfo: new Map(), running: new Map() })]);
}

/** How long a group may take to complete after its last report (one episode on the host). */
const GROUP_COMPLETION_WAIT_MS = 60_000;

/**
 * For a group whose steps wait for word from other groups (asked at its alarm clock's tick): what
 * each of those groups that ended says of the steps waited for (groupWord). Groups still running
 * are left out: their word may still come.
 */
export async function groupsSettled(input: GroupsSettledInput, context: InvocationContext): Promise<GroupSettled[]> {
  const g = new Guard();
  if (typeof input?.run !== 'string' || input.run === '') g.issues.push({ path: 'run', message: 'must be the boot\'s run' });
  if (!Array.isArray(input?.groups) || input.groups.some((x) => typeof x?.instanceId !== 'string' || !Array.isArray(x.steps))) g.issues.push({ path: 'groups', message: 'must be a list of { instanceId, steps }' });
  g.done('groupsSettled');
  const client = df.getClient(context);
  const statuses = await mapLimit(input.groups, INSTANCE_CALLS_AT_ONCE, (x) => statusOf(client, x.instanceId));
  return input.groups.flatMap((x, i) => {
    const word = groupWord(statuses[i], input.run, x.steps);
    return word ? [{ instanceId: x.instanceId, ...word }] : [];
  });
}

export interface SummarizeBootParts {
  recordEvent: Handler<'recordEvent'>;
}

export function makeSummarizeBoot(parts: SummarizeBootParts): Handler<'summarizeBoot'> {
  return async (input: SummarizeBootInput, context: InvocationContext): Promise<Activities['summarizeBoot']['output']> => {
    const client = df.getClient(context);
    // Every group's output read side by side, in the groups' order.
    const shares = await mapLimit(input.groups, INSTANCE_CALLS_AT_ONCE, async (id): Promise<BootShare> => {
      // A group reports to the root, then completes in its next episode: wait for that (usually
      // done by now; a short first wait, growing, when it is not).
      const deadline = Date.now() + GROUP_COMPLETION_WAIT_MS;
      for (let waitMs = 10; ; waitMs = Math.min(waitMs * 2, 1_000)) {
        const s = await statusOf(client, id);
        if (s?.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) return s.output as BootShare;
        // Ended before it reported (the root found it so at a tick): its share from its input, all failed.
        if (s?.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated || s?.runtimeStatus === df.OrchestrationRuntimeStatus.Failed) {
          return endedShare((s.input as BootGroupInput).slice, endedBeforeReport(id, s.runtimeStatus));
        }
        if (!isActive(s) || Date.now() > deadline) {
          throw new Error(`the boot's group '${id}' has no output: it is ${s?.runtimeStatus ?? 'missing'}${isActive(s) ? ` ${GROUP_COMPLETION_WAIT_MS / 1000} s after its report` : ''}`);
        }
        await new Promise((r) => setTimeout(r, waitMs));
      }
    });
    const output = mergeShares(shares, input.monitoring);
    // The end event's id is the boot's own: a second run of this activity records it once.
    await parts.recordEvent(
      {
        ...input.end,
        target: 'platform',
        targetKind: 'platform',
        type: 'boot',
        outcome: output.status === 'succeeded' ? 'succeeded' : 'failed',
        ...(output.failures.length ? { reason: `${output.failures.length} failure(s)` } : {}),
      },
      context,
    );
    return output;
  };
}
