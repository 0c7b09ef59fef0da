/**
 * Where the replicas of a service run: each replica is one container with its own host port.
 * Pure domain: the planner, the validation and the activities all place replicas with this.
 */
import type { ServiceSpec } from './topology.js';

export interface Placement {
  service: string;
  /** 0-based; replica 0 is the service's first container (named like the service). */
  replica: number;
  vm: string;
  /** The container's name on its VM. */
  container: string;
  /** Host port (and container port: the service listens on PORT). */
  port: number;
}

/** The VMs a service spreads over, in order: `vms` when given, else its `vm`. */
export function spreadVms(spec: Pick<ServiceSpec, 'vm' | 'vms'>): string[] {
  return spec.vms && spec.vms.length > 0 ? spec.vms : [spec.vm];
}

/** The container name of the `slot`-th replica on one VM. */
export function containerName(service: string, slot: number): string {
  return slot === 0 ? service : `${service}-r${slot}`;
}

/**
 * Round robin over the VMs: replica i runs on vms[i % n]; the k-th replica on one VM uses port + k
 * and container `<name>` (k = 0) or `<name>-r<k>`. Adding a replica never moves another one.
 */
export function placements(spec: Pick<ServiceSpec, 'name' | 'vm' | 'vms' | 'port' | 'replicas'>): Placement[] {
  const vms = spreadVms(spec);
  const count = spec.replicas ?? 1;
  return Array.from({ length: count }, (_, replica) => {
    const slot = Math.floor(replica / vms.length);
    return { service: spec.name, replica, vm: vms[replica % vms.length]!, container: containerName(spec.name, slot), port: spec.port + slot };
  });
}

/** A stable key of one container: VM and container name. */
export const placementKey = (p: { vm: string; container: string }): string => `${p.vm}/${p.container}`;

/** One container of a service as the registry lists it (the fields that say where it runs). */
export interface RegisteredPlace {
  vm: string;
  container: string;
  replica: number;
  port: number;
}

/** A desired replica where it runs now, and whether the registry lists it (it was started). */
export interface CurrentPlacement extends Placement {
  registered: boolean;
}

/**
 * Where each desired replica runs now, for those that check or read it (the watchdog, `logs`):
 * its desired place when the registry has a container there (on the port registered); else where
 * the registry has that replica (a move in progress: the old side serves until the switch); else
 * its desired place, not registered (not started yet: a scale-up in progress, or a start that
 * failed). Replicas the desired state dropped are not listed, even while the registry has them.
 */
export function currentPlacements(spec: Pick<ServiceSpec, 'name' | 'vm' | 'vms' | 'port' | 'replicas'>, registered: readonly RegisteredPlace[]): CurrentPlacement[] {
  return placements(spec).map((p) => {
    const here = registered.find((r) => r.vm === p.vm && r.container === p.container);
    if (here) return { ...p, port: here.port, registered: true };
    const elsewhere = registered.find((r) => r.replica === p.replica);
    return elsewhere ? { ...p, vm: elsewhere.vm, container: elsewhere.container, port: elsewhere.port, registered: true } : { ...p, registered: false };
  });
}
