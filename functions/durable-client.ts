/** Reading instance status through the durable client, shared by the API and the activities that start instances. */
import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';

const ACTIVE = new Set<string>([df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending]);

/** The instance's status, or undefined when there is no such instance. */
export async function statusOf(client: DurableClient, instanceId: string, showHistory = false): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showHistory, showHistoryOutput: showHistory, showInput: true });
  } catch (e) {
    if (/HTTP 404/.test((e as Error).message)) return undefined;
    throw e;
  }
}

export function isActive(status: DurableOrchestrationStatus | undefined): boolean {
  return status !== undefined && ACTIVE.has(status.runtimeStatus);
}
