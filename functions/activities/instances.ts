/**
 * Activities that start orchestration instances and raise events through the durable client: how
 * the boot starts its per-VM and per-step work without waiting on it, and how that work reports back.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isActive, statusOf } from '../durable-client.js';
import type { NotifyInput, StartInstancesInput, StartedInstance } from './contracts.js';

/**
 * Start each instance under its fixed id. One whose id a running instance holds is not started
 * (the client refuses it, as the extension does with its default overridableExistingInstanceStates).
 */
export async function startInstances(input: StartInstancesInput, context: InvocationContext): Promise<StartedInstance[]> {
  const client = df.getClient(context);
  const out: StartedInstance[] = [];
  for (const i of input.instances) {
    const current = await statusOf(client, i.instanceId);
    if (isActive(current)) {
      // At-least-once: this activity may run again after it started the instance; the same run is fine.
      const same = current?.input !== undefined && JSON.stringify(current.input) === JSON.stringify(i.input);
      out.push(same ? { instanceId: i.instanceId, started: true } : { instanceId: i.instanceId, started: false, reason: `instance '${i.instanceId}' (${current!.name}) is already ${current!.runtimeStatus}` });
      continue;
    }
    try {
      await client.startNew(i.name, { instanceId: i.instanceId, input: i.input });
      out.push({ instanceId: i.instanceId, started: true });
    } catch (e) {
      const now = await statusOf(client, i.instanceId);
      if (isActive(now) && JSON.stringify(now?.input) === JSON.stringify(i.input)) out.push({ instanceId: i.instanceId, started: true });
      else out.push({ instanceId: i.instanceId, started: false, reason: (e as Error).message });
    }
  }
  return out;
}

/** Raise an event to an instance (the parent that waits for this work). */
export async function notifyInstance(input: NotifyInput, context: InvocationContext): Promise<void> {
  await df.getClient(context).raiseEvent(input.instanceId, input.event, input.data);
}
