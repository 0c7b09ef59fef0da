/**
 * Fixed orchestration instance ids: one instance per target, so a storm of identical requests does
 * the work once (the host refuses to start an id that is already running).
 */
export const BOOT_ID = 'boot';
export const WATCHDOG_ID = 'watchdog';
/** The one reconcile: a second request joins the running one. */
export const RECONCILE_ID = 'reconcile';

export const bootVmId = (vm: string): string => `boot-vm-${vm}`;
export const bootStepId = (step: string): string => `boot-step-${step}`;
/** One group of VMs of a boot (platform/boot-groups.ts), by its index. */
export const bootGroupId = (index: number): string => `boot-group-${index}`;
/**
 * The alarm clock of a boot group or of the boot's root (`owner`, orchestrations/alarm-clock.ts),
 * `guid` from the owner's deterministic newGuid. Not under `boot`: one may still wait out its timer
 * after the boot ended, and what waits for the boot to end (the reconcile, EXCLUSIVE_WITH) must not
 * wait for it.
 */
export const bootTickId = (owner: string, guid: string): string => `tick-${owner}-${guid}`;
export const provisionVmId = (vm: string): string => `provision-vm-${vm}`;
export const initVmId = (vm: string): string => `init-vm-${vm}`;
export const restartVmId = (vm: string): string => `restart-vm-${vm}`;
export const restartServiceId = (service: string): string => `restart-svc-${service}`;
/** A VM the reconcile provisions (the boot's per-VM orchestration, under the reconcile's own id). */
export const reconcileVmId = (vm: string): string => `reconcile-vm-${vm}`;

/** Which target an operation id acts on, for 409 messages and `GET /api/platform`. */
export function describeOperation(id: string): { kind: string; target?: string } {
  const patterns: Array<[RegExp, string]> = [
    [/^boot-vm-(.+)$/, 'boot-vm'],
    [/^boot-step-(.+)$/, 'boot-step'],
    [/^boot-group-(\d+)$/, 'boot-group'],
    [/^tick-(boot(?:-group-\d+)?)-.+$/, 'boot-tick'],
    [/^provision-vm-(.+)$/, 'provision-vm'],
    [/^init-vm-(.+)$/, 'init-vm'],
    [/^restart-vm-(.+)$/, 'restart-vm'],
    [/^restart-svc-(.+)$/, 'restart-service'],
    [/^reconcile-vm-(.+)$/, 'reconcile-vm'],
  ];
  if (id === BOOT_ID) return { kind: 'boot' };
  if (id === WATCHDOG_ID) return { kind: 'watchdog' };
  if (id === RECONCILE_ID) return { kind: 'reconcile' };
  for (const [re, kind] of patterns) {
    const m = re.exec(id);
    if (m) return { kind, target: m[1] };
  }
  return { kind: 'other' };
}
