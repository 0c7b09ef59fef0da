/**
 * Starting and reading long-running operations through the durable client. One instance per target:
 * a request for work that already runs gets 409 naming the running operation.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { isActive, statusOf } from '../durable-client.js';
import { conflict, json } from './respond.js';

export function operationLinks(request: HttpRequest, instanceId: string) {
  const base = new URL(request.url);
  return { operationUrl: `${base.origin}/api/operations/${encodeURIComponent(instanceId)}` };
}

function runningConflict(request: HttpRequest, status: DurableOrchestrationStatus, what: string): never {
  throw conflict(`${what} is already running as operation "${status.instanceId}"`, {
    operation: { id: status.instanceId, name: status.name, runtimeStatus: status.runtimeStatus, createdTime: status.createdTime, ...operationLinks(request, status.instanceId) },
  });
}

/** Starts `orchestration` as `instanceId` unless that instance is active; 202 with the operation URL. */
export async function startSingleton(
  client: DurableClient,
  request: HttpRequest,
  orchestration: string,
  instanceId: string,
  input: unknown,
  what: string,
): Promise<HttpResponseInit> {
  try {
    // Started first, looked at only when refused (the extension refuses an id that runs).
    await client.startNew(orchestration, { instanceId, input });
  } catch (e) {
    const now = await statusOf(client, instanceId);
    if (isActive(now)) runningConflict(request, now!, what);
    throw e;
  }
  // Only our own operation URL leaves the app: the durable management URLs carry the system key
  // (`code=`), which would let any caller read every instance's input or terminate the watchdog.
  const links = operationLinks(request, instanceId);
  return json(202, { id: instanceId, ...links }, { location: links.operationUrl, 'retry-after': '2' });
}
