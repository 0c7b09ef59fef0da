/**
 * Loopback addresses for emulated VMs. Linux routes all of 127.0.0.0/8 to `lo`, so each VM gets an
 * address of its own and two VMs can both listen on port 8080. Each emulator run draws a random
 * /24 (127.A.B.0) so that test files running in parallel never collide.
 */
import { randomInt } from 'node:crypto';

/** Where the ARM emulator draws addresses: public IP resources and NIC private (VNet) addresses. */
export interface AddressPool {
  allocatePublic(name: string): string;
  allocatePrivate(name: string): string;
}

/** Loopback addresses (kept for emulators that need no VM network, e.g. the ARM contract tests). */
export class LoopbackPool implements AddressPool {
  readonly prefix: string;
  private next = 10;
  private readonly byName = new Map<string, string>();

  constructor(prefix?: string) {
    this.prefix = prefix ?? `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
  }

  allocatePublic(name: string): string {
    return this.allocate(name);
  }

  allocatePrivate(name: string): string {
    return this.allocate(name);
  }

  /** The same name always gets the same address within one run. */
  allocate(name: string): string {
    let ip = this.byName.get(name);
    if (!ip) {
      if (this.next > 250) throw new Error(`loopback pool ${this.prefix}.0/24 exhausted (more than 240 addresses)`);
      ip = `${this.prefix}.${this.next++}`;
      this.byName.set(name, ip);
    }
    return ip;
  }
}
