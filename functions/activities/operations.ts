/** Which operations run now, through the durable client: the reconcile waits for the boot and restarts. */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

/** Ids of running or pending instances whose id starts with one of `prefixes`. */
export async function activeOperations(input: { prefixes: string[] }, context: InvocationContext): Promise<string[]> {
  const running = await df.getClient(context).getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending] });
  return running
    .map((s) => s.instanceId)
    .filter((id) => (input?.prefixes ?? []).some((p) => id === p || id.startsWith(p)))
    .sort();
}
