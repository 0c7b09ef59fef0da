/**
 * The durable client binding data (what `df.input.durableClient()` receives in Azure): task hub,
 * creation and management URL templates carrying the system key as `code`, and the rpcBaseUrl the
 * SDK's DurableClient calls for startNew/getStatus/raiseEvent/terminate.
 */
export const WEBHOOK_PREFIX = '/runtime/webhooks/durabletask';

export interface ClientData {
  taskHubName: string;
  creationUrls: { createNewInstancePostUri: string; waitOnNewInstancePostUri: string };
  managementUrls: Record<string, string> & { id: string };
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

export function buildClientData(baseUrl: string, rpcBaseUrl: string, taskHub: string, systemKey: string): ClientData {
  const wh = `${baseUrl}${WEBHOOK_PREFIX}`;
  const code = encodeURIComponent(systemKey);
  const q = `taskHub=${encodeURIComponent(taskHub)}&connection=Storage&code=${code}`;
  const inst = `${wh}/instances/INSTANCEID`;
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${wh}/orchestrators/{functionName}[/{instanceId}]?code=${code}`,
      waitOnNewInstancePostUri: `${wh}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${code}`,
    },
    managementUrls: {
      id: 'INSTANCEID',
      statusQueryGetUri: `${inst}?${q}`,
      sendEventPostUri: `${inst}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${inst}/terminate?reason={text}&${q}`,
      rewindPostUri: `${inst}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${inst}?${q}`,
      suspendPostUri: `${inst}/suspend?reason={text}&${q}`,
      resumePostUri: `${inst}/resume?reason={text}&${q}`,
    },
    baseUrl: wh,
    requiredQueryStringParameters: q,
    rpcBaseUrl,
  };
}

/** The management payload for one instance (createCheckStatusResponse's body). */
export function managementPayload(data: ClientData, instanceId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data.managementUrls)) out[k] = v.split('INSTANCEID').join(k === 'id' ? instanceId : encodeURIComponent(instanceId));
  return out;
}
