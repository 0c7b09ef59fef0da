/** Starts the watchdog singleton (an independent eternal instance, started once) and the watchdog's restarts. */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isActive, statusOf } from '../durable-client.js';
import { WATCHDOG_ID, restartServiceId } from '../platform/ids.js';
import type { RestartServiceInput } from '../orchestrations/restart-service.js';
import type { WatchdogInput } from '../orchestrations/watchdog.js';
import { O, type WatchdogRestart } from './contracts.js';

export async function startWatchdog(input: WatchdogInput, context: InvocationContext): Promise<{ started: boolean }> {
  const client = df.getClient(context);
  if (isActive(await statusOf(client, WATCHDOG_ID))) return { started: false };
  try {
    await client.startNew(O.watchdog, { instanceId: WATCHDOG_ID, input });
    return { started: true };
  } catch (e) {
    // Run twice concurrently: the other run started it.
    if (isActive(await statusOf(client, WATCHDOG_ID))) return { started: false };
    throw e;
  }
}

/**
 * Start a restart for the watchdog under the restart's fixed id, unless one runs already (an
 * operator's, or the watchdog's own): the client refuses a running id, so two restarts never share
 * an instance. At-least-once: a second run that finds its own restart running reports it started.
 */
export async function startRestart(input: RestartServiceInput, context: InvocationContext): Promise<WatchdogRestart> {
  const client = df.getClient(context);
  const id = restartServiceId(input.service);
  const running = async (): Promise<WatchdogRestart | undefined> => {
    const s = await statusOf(client, id);
    if (!isActive(s)) return undefined;
    if (JSON.stringify(s!.input) === JSON.stringify(input)) return { instanceId: id, started: true };
    const by = (s!.input as Partial<RestartServiceInput> | undefined)?.requestedBy;
    return { instanceId: id, started: false, reason: `a restart of "${input.service}" is already ${s!.runtimeStatus}${by ? ` (requested by ${by})` : ''}` };
  };
  const before = await running();
  if (before) return before;
  try {
    await client.startNew(O.restartService, { instanceId: id, input });
    return { instanceId: id, started: true };
  } catch (e) {
    const now = await running();
    if (now) return now;
    throw e;
  }
}
