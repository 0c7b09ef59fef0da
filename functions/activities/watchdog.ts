/** Starts the watchdog singleton: an independent eternal instance, started once. */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isActive, statusOf } from '../durable-client.js';
import { WATCHDOG_ID } from '../platform/ids.js';
import type { WatchdogInput } from '../orchestrations/watchdog.js';
import { O } from './contracts.js';

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
