/** Reading instance status through the durable client, shared by the API and the activities that start instances. */
import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';

const ACTIVE = new Set<string>([df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending]);

/** The instance's status, or undefined when there is no such instance. */
export async function statusOf(client: DurableClient, instanceId: string, showHistory = false): Promise<DurableOrchestrationStatus | undefined> {
  let status: DurableOrchestrationStatus;
  try {
    status = await client.getStatus(instanceId, { showHistory, showHistoryOutput: showHistory, showInput: true });
  } catch (e) {
    if (/HTTP 404/.test((e as Error).message)) return undefined;
    throw e;
  }
  if (showHistory && status.history === undefined) {
    // durable-functions reads `history` while the extension answers `historyEvents`
    // (Azure/azure-functions-durable-js#620): read the status URL ourselves.
    const url = new URL(client.createHttpManagementPayload(instanceId).statusQueryGetUri);
    url.searchParams.set('showHistory', 'true');
    url.searchParams.set('showHistoryOutput', 'true');
    const res = await fetch(url);
    if (res.ok || res.status === 202) {
      const body = (await res.json()) as { historyEvents?: unknown[] };
      (status as { history?: unknown[] }).history = body.historyEvents ?? [];
    }
  }
  return status;
}

export function isActive(status: DurableOrchestrationStatus | undefined): boolean {
  return status !== undefined && ACTIVE.has(status.runtimeStatus);
}
