/**
 * What a boot reports when it is done: every VM and service with its state, endpoint and, for what
 * did not come up, why. Each group of the boot describes its own share (`describeShare`); the root
 * puts the shares together in the topology's order (`mergeShares`). Pure.
 */
import { BootState, type Failure } from './boot-state.js';
import type { BootGroupSlice } from './boot-groups.js';

export interface BootVmSummary {
  name: string;
  status: 'running' | 'failed';
  publicIp?: string;
  privateIp?: string;
  powerState?: string;
}

export interface BootServiceSummary {
  name: string;
  kind: string;
  vm: string;
  status: string;
  host?: string;
  port?: number;
  startedAt?: string;
  blockedBy?: string;
}

export interface BootOutput {
  status: 'succeeded' | 'partial' | 'failed';
  vms: BootVmSummary[];
  services: BootServiceSummary[];
  failures: Failure[];
}

/** One group's share: its VMs in topology order, its services with their place in the output. */
export interface BootShare {
  vms: BootVmSummary[];
  services: Array<BootServiceSummary & { order: number }>;
  failures: Failure[];
}

export interface ShareInputs {
  state: BootState;
  vms: string[];
  steps: Array<{ step: string; kind: string; vm: string; order: number }>;
  vmInfo: ReadonlyMap<string, { publicIp: string; privateIp: string; powerState: string }>;
  running: ReadonlyMap<string, { host: string; port: number; startedAt: string }>;
}

export function describeShare({ state, vms, steps, vmInfo, running }: ShareInputs): BootShare {
  return {
    vms: vms.map((name) => {
      const info = vmInfo.get(name);
      return info ? { name, status: 'running', publicIp: info.publicIp, privateIp: info.privateIp, powerState: info.powerState } : { name, status: 'failed' };
    }),
    services: steps.map((s) => {
      const run = running.get(s.step);
      const blockedBy = state.blockedReason(s.step);
      return {
        name: s.step,
        kind: s.kind,
        vm: s.vm,
        status: state.state(s.step) ?? 'pending',
        order: s.order,
        ...(run ? { host: run.host, port: run.port, startedAt: run.startedAt } : {}),
        ...(blockedBy ? { blockedBy } : {}),
      };
    }),
    failures: state.failures(),
  };
}

/** Why the reports of an orchestration that ended (terminated or failed) before sending them never come. */
export function endedBeforeReport(instanceId: string, runtimeStatus: 'Failed' | 'Terminated'): string {
  return `its orchestration ${instanceId} ${runtimeStatus === 'Terminated' ? 'was terminated' : 'failed'} before it reported`;
}

/**
 * The share of a group that ended before it reported (an operator terminated it): what it did is
 * not known, so each of its VMs and steps fails with `reason` (a re-boot adopts what does run).
 */
export function endedShare(slice: Pick<BootGroupSlice, 'plan' | 'steps'>, reason: string): BootShare {
  const state = new BootState(slice.plan);
  state.abandon(reason);
  return describeShare({
    state,
    vms: slice.plan.vms,
    steps: slice.steps.map((s) => ({ step: s.step, kind: s.kind, vm: s.vm, order: s.order })),
    vmInfo: new Map(),
    running: new Map(),
  });
}

/**
 * What a group that ended says of its steps, for a group still waiting for its word (a tell lost:
 * the task hub refused the event; or never sent: the group was terminated). `status` is the
 * group's instance as the durable client reads it; undefined while it runs (its word may still
 * come). A completed group of this run says what its output says (a step ran or did not); a group
 * that failed, was terminated, or is another run's says none of them ran.
 */
export function groupWord(
  status: { runtimeStatus: string; input?: unknown; output?: unknown } | undefined,
  run: string,
  steps: string[],
): { ended: 'Completed' | 'Failed' | 'Terminated' | 'another run'; outcomes: Array<{ step: string; ok: boolean }> } | undefined {
  if (!status || !['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) return undefined;
  const ofRun = (status.input as { notify?: { run?: string } } | undefined)?.notify?.run === run;
  if (ofRun && status.runtimeStatus === 'Completed') {
    const services = (status.output as BootShare | undefined)?.services ?? [];
    return { ended: 'Completed', outcomes: steps.map((step) => ({ step, ok: services.some((s) => s.name === step && s.status === 'running') })) };
  }
  return { ended: ofRun ? (status.runtimeStatus as 'Failed' | 'Terminated') : 'another run', outcomes: steps.map((step) => ({ step, ok: false })) };
}

/**
 * The boot's output from its groups' shares (in group order, so VMs keep the topology's order),
 * with the monitoring service as the root saw it (it starts monitoring after every group).
 */
export function mergeShares(
  shares: BootShare[],
  monitoring?: { name: string; service: Partial<BootServiceSummary>; failure?: Failure },
): BootOutput {
  const vms = shares.flatMap((s) => s.vms);
  const services = shares
    .flatMap((s) => s.services)
    .sort((a, b) => a.order - b.order)
    .map(({ order: _order, ...s }) => (monitoring && s.name === monitoring.name ? dropUndefined({ ...s, ...monitoring.service }) : s));
  const failures = shares.flatMap((s) => s.failures);
  if (monitoring?.failure) failures.push(monitoring.failure);
  const running = services.some((s) => s.status === 'running');
  return { status: failures.length === 0 ? 'succeeded' : running ? 'partial' : 'failed', vms, services, failures };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
