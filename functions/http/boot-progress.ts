/**
 * The boot's progress as one `BootProgress`: the root shows only how far its groups are
 * (`BootRootStatus`), each group its own VMs and services, and this puts them together for the
 * API's callers (the CLI's live view, the UI, the restart route's "not started yet" check).
 */
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { statusOf } from '../durable-client.js';
import { isRootStatus, mergeProgress, type BootProgress } from '../platform/boot-state.js';
import { bootGroupId } from '../platform/ids.js';

/** The custom status to show for an instance: the merged progress for a boot, else its own. */
export async function shownStatus(client: DurableClient, status: DurableOrchestrationStatus): Promise<unknown> {
  const root = status.customStatus;
  if (!isRootStatus(root)) return root ?? null;
  const parts = await Promise.all(
    Array.from({ length: root.groups }, async (_, i) => (await statusOf(client, bootGroupId(i)))?.customStatus as BootProgress | null | undefined),
  );
  return mergeProgress(root, parts);
}
