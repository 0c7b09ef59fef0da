/**
 * The local VMs' network: one Linux bridge per run, one network namespace per VM joined to it by a
 * veth pair, and two subnets on the bridge: a private one (the VNet: NIC private addresses) and a
 * "public" one (public IP resources) drawn from 198.18.0.0/15, the block reserved for network
 * tests. The host holds the gateway (.1) of both, so the LCM on the host reaches every VM as it
 * would over the internet (public) or VNet integration (private). Nothing routes off the machine:
 * the namespaces have no default route. Names carry a run id and an owner file records the process
 * that made them, so a later run removes what a crashed run left behind, and parallel runs never
 * touch each other's.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { removeRunCgroups } from './cgroups.js';

const exec = promisify(execFile);
export const RUN_ROOT = '/run/lcm-vms';

async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args)).stdout;
  } catch (e) {
    throw new Error(`ip ${args.join(' ')} failed: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}

async function iptables(args: string[]): Promise<void> {
  await exec('iptables', ['-w', '5', ...args]).catch(() => undefined);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what runs whose owner process is gone left behind: namespaces, bridge, firewall rule. */
export async function sweepStaleRuns(): Promise<string[]> {
  const swept: string[] = [];
  const live = new Set<string>();
  for (const id of existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT) : []) {
    const ownerFile = join(RUN_ROOT, id, 'owner');
    const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8')) : 0;
    if (owner && alive(owner)) {
      live.add(id);
      continue;
    }
    await removeRun(id);
    swept.push(id);
  }
  // Cgroups of runs whose record is already gone (stopped before runs removed them, or killed).
  await removeRunCgroups((run) => !live.has(run), { attempts: 1 });
  return swept;
}

async function removeRun(id: string): Promise<void> {
  const netns = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`lcm${id}-`));
  for (const ns of netns) await killNamespace(ns);
  for (const ns of netns) await ip('netns', 'delete', ns).catch(() => undefined);
  await ip('link', 'delete', bridgeName(id)).catch(() => undefined);
  await iptables(['-D', 'FORWARD', '-i', bridgeName(id), '-o', bridgeName(id), '-j', 'ACCEPT']);
  await removeRunCgroups((run) => run === id);
  const dirFile = join(RUN_ROOT, id, 'dir');
  const owned = existsSync(dirFile) ? readFileSync(dirFile, 'utf8').trim() : '';
  if (owned && isOwnedTempDir(owned)) rmSync(owned, { recursive: true, force: true });
  rmSync(join(RUN_ROOT, id), { recursive: true, force: true });
}

/** Only a folder made for a run (`lcm-*` straight under the temp folder) is ever swept. */
function isOwnedTempDir(dir: string): boolean {
  return isAbsolute(dir) && dirname(dir) === tmpdir() && /^lcm-[A-Za-z0-9._-]+$/.test(basename(dir));
}

/** Kills every process whose network namespace is `ns` (a VM's init and all it started). */
export async function killNamespace(ns: string): Promise<void> {
  const pids = (await ip('netns', 'pids', ns).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const bridgeName = (id: string) => `lcmbr${id}`;

export interface VmLink {
  /** Network namespace name (under /run/netns). */
  netns: string;
  privateIp: string;
  publicIp: string;
}

/** Picks a /24 no route of this machine covers. */
async function freeSubnet(pick: () => string): Promise<string> {
  const routes = await ip('-4', 'route', 'show', 'table', 'all');
  for (let i = 0; i < 50; i++) {
    const prefix = pick();
    if (!routes.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free /24 for the local VM network after 50 draws; remove stale lcmbr* bridges (`ip link delete NAME`)');
}

export class VmNetwork {
  readonly id = randomBytes(3).toString('hex');
  readonly bridge = bridgeName(this.id);
  privatePrefix = '';
  publicPrefix = '';
  private nextPrivate = 4; // Azure hands out .4 first in a subnet
  private nextPublic = 10;
  private index = 0;
  private readonly byVm = new Map<string, VmLink>();
  private readonly addresses = new Map<string, string>();

  get privateGateway(): string {
    return `${this.privatePrefix}.1`;
  }

  /** The host's address on the public subnet: where VMs reach services of "the internet" (Files, the LCM API, the registry). */
  get publicGateway(): string {
    return `${this.publicPrefix}.1`;
  }

  /**
   * `ownedDir`: a temporary folder of this run's (the VMs' disks) that the sweep of a run whose
   * owner was killed removes too, since no stop of that run will.
   */
  async start(opts: { ownedDir?: string } = {}): Promise<void> {
    await sweepStaleRuns();
    mkdirSync(join(RUN_ROOT, this.id), { recursive: true });
    writeFileSync(join(RUN_ROOT, this.id, 'owner'), String(process.pid));
    if (opts.ownedDir && isOwnedTempDir(opts.ownedDir)) writeFileSync(join(RUN_ROOT, this.id, 'dir'), opts.ownedDir);
    this.privatePrefix = await freeSubnet(() => `10.${randomInt(64, 250)}.${randomInt(1, 250)}`);
    this.publicPrefix = await freeSubnet(() => `198.${randomInt(18, 20)}.${randomInt(1, 250)}`);
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.privateGateway}/24`, 'dev', this.bridge);
    await ip('addr', 'add', `${this.publicGateway}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    // A Docker engine on this machine sets FORWARD to DROP; bridged VM-to-VM traffic must pass.
    await iptables(['-I', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']);
  }

  /** A private (VNet) address, stable per name within the run. */
  allocatePrivate(name: string): string {
    return this.allocate(`private:${name}`, () => `${this.privatePrefix}.${this.nextPrivate++}`);
  }

  allocatePublic(name: string): string {
    return this.allocate(`public:${name}`, () => `${this.publicPrefix}.${this.nextPublic++}`);
  }

  private allocate(key: string, next: () => string): string {
    let a = this.addresses.get(key);
    if (!a) {
      if (this.nextPrivate > 250 || this.nextPublic > 250) throw new Error('local VM network exhausted (more than 240 addresses in a subnet)');
      a = next();
      this.addresses.set(key, a);
    }
    return a;
  }

  /** Creates (or re-addresses) the VM's namespace with its link on the bridge. */
  async ensureVm(vm: string, privateIp: string, publicIp: string): Promise<VmLink> {
    const existing = this.byVm.get(vm);
    if (existing && existing.privateIp === privateIp && existing.publicIp === publicIp) return existing;
    if (existing) await this.removeVm(vm);
    const n = this.index++;
    const netns = `lcm${this.id}-${n}`;
    const host = `lv${this.id}${n}`;
    const peer = `lp${this.id}${n}`;
    await ip('netns', 'add', netns);
    try {
      await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
      await ip('link', 'set', peer, 'netns', netns);
      await ip('link', 'set', host, 'master', this.bridge);
      await ip('link', 'set', host, 'up');
      const inNs = (...args: string[]) => ip('-n', netns, ...args);
      await inNs('link', 'set', peer, 'name', 'eth0');
      await inNs('addr', 'add', `${privateIp}/24`, 'dev', 'eth0');
      await inNs('addr', 'add', `${publicIp}/24`, 'dev', 'eth0');
      await inNs('link', 'set', 'eth0', 'up');
      await inNs('link', 'set', 'lo', 'up');
    } catch (e) {
      await ip('netns', 'delete', netns).catch(() => undefined);
      throw e;
    }
    const link = { netns, privateIp, publicIp };
    this.byVm.set(vm, link);
    return link;
  }

  link(vm: string): VmLink | undefined {
    return this.byVm.get(vm);
  }

  /** A network partition: the VM's link goes down (clients time out) or comes back. */
  async setLink(vm: string, up: boolean): Promise<void> {
    const link = this.byVm.get(vm);
    if (!link) throw new Error(`VM ${vm} has no network link (never powered on)`);
    await ip('-n', link.netns, 'link', 'set', 'eth0', up ? 'up' : 'down');
  }

  async removeVm(vm: string): Promise<void> {
    const link = this.byVm.get(vm);
    if (!link) return;
    this.byVm.delete(vm);
    await killNamespace(link.netns);
    await ip('netns', 'delete', link.netns).catch(() => undefined);
  }

  async stop(): Promise<void> {
    for (const vm of [...this.byVm.keys()]) await this.removeVm(vm);
    await removeRun(this.id);
  }
}
