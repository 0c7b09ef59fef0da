/**
 * Activities that start orchestration instances and raise events through the durable client: how
 * the boot starts its per-VM and per-step work without waiting on it, and how that work reports back.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isActive, statusOf } from '../durable-client.js';
import { mapLimit } from '../platform/map-limit.js';
import { Guard } from '../platform/guard.js';
import type { EndedInstance, EndedInstancesInput, NotifyInput, StartInstancesInput, StartedInstance } from './contracts.js';

/**
 * Start each instance under its fixed id. One whose id a running instance holds is not started
 * (the client refuses it, as the extension does with its default overridableExistingInstanceStates,
 * NonRunningStates), nor one the client fails to start: each is a refusal with its reason.
 */
export async function startInstances(input: StartInstancesInput, context: InvocationContext): Promise<StartedInstance[]> {
  const client = df.getClient(context);
  // A few at a time: a group starts its VMs (10) in one round trip, not one by one.
  return mapLimit(input.instances, INSTANCE_CALLS_AT_ONCE, async (i): Promise<StartedInstance> => {
    try {
      // Started first, looked at only when refused: one client call per instance, not two.
      await client.startNew(i.name, { instanceId: i.instanceId, input: i.input });
      return { instanceId: i.instanceId, started: true };
    } catch (e) {
      const now = await statusOf(client, i.instanceId).catch(() => undefined);
      if (!isActive(now)) return { instanceId: i.instanceId, started: false, reason: (e as Error).message };
      // At-least-once: this activity may run again after it started the instance; the same run is fine.
      if (JSON.stringify(now?.input) === JSON.stringify(i.input)) return { instanceId: i.instanceId, started: true };
      return { instanceId: i.instanceId, started: false, reason: `instance '${i.instanceId}' (${now!.name}) is already ${now!.runtimeStatus}` };
    }
  });
}

/**
 * Which of these instances failed or were terminated (by an operator, or a deploy that changed
 * the orchestrator under them): work that waits for their reports waits in vain. A completed
 * instance is not among them (its report was raised before it completed), nor one not there;
 * asked with a run, one of that run that completed is, with its output (its report may have been
 * refused: it completed all the same).
 */
export async function endedInstances(input: EndedInstancesInput, context: InvocationContext): Promise<EndedInstance[]> {
  const g = new Guard();
  if (!Array.isArray(input?.instanceIds) || input.instanceIds.some((id) => typeof id !== 'string' || id === '')) g.issues.push({ path: 'instanceIds', message: 'must be a list of instance ids' });
  if (input?.run !== undefined && (typeof input.run !== 'string' || input.run === '')) g.issues.push({ path: 'run', message: "must be the boot's run" });
  g.done('endedInstances');
  const client = df.getClient(context);
  const statuses = await mapLimit(input.instanceIds, INSTANCE_CALLS_AT_ONCE, (id) => statusOf(client, id));
  return input.instanceIds.flatMap((instanceId, i): EndedInstance[] => {
    const s = statuses[i];
    if (s?.runtimeStatus === df.OrchestrationRuntimeStatus.Failed || s?.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated) return [{ instanceId, runtimeStatus: s.runtimeStatus }];
    const ofRun = input.run !== undefined && (s?.input as { notify?: { run?: unknown } } | undefined)?.notify?.run === input.run;
    if (ofRun && s?.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) return [{ instanceId, runtimeStatus: 'Completed', output: s.output }];
    return [];
  });
}

/** Durable-client calls (status reads, starts) an activity makes at once. */
export const INSTANCE_CALLS_AT_ONCE = 8;

/** How long an event waits for its instance to exist (one being started right now). */
const MISSING_TARGET_WAIT_MS = 60_000;

/**
 * Raise an event to an instance (the parent that waits for this work, or another group of a boot).
 * The client refuses an instance that does not exist yet (404), and a boot's groups start one after
 * another while the first ones already run: a missing target is waited for, a while, then refused.
 */
export async function notifyInstance(input: NotifyInput, context: InvocationContext): Promise<void> {
  const client = df.getClient(context);
  const deadline = Date.now() + MISSING_TARGET_WAIT_MS;
  for (let waitMs = 100; ; waitMs = Math.min(waitMs * 2, 2_000)) {
    try {
      await client.raiseEvent(input.instanceId, input.event, input.data);
      return;
    } catch (e) {
      if (!/No instance with ID/i.test((e as Error).message) || Date.now() + waitMs > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, waitMs));
  }
}
