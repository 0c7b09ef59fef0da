/**
 * The local VM fleet: makes a VM the ARM emulator powers on a real Linux host. Each VM is a
 * network namespace on the run's bridge with its public and private address, real OpenSSH, real
 * sudo and, once the LCM installs Docker, a real Docker engine whose Docker Hub mirror is the
 * machine's registry (seeded with images built here). The fleet also offers the control surface
 * tests, benchmarks and demos use to inject real faults (power loss, link down, docker kill) and to
 * see what happened on a VM (the engine's own events).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InboundRules, PowerOffReason, VmPowerHooks, VmPowerOn } from '../types.js';
import { applyNsg } from './nsg.js';
import { DockerEventLog } from './docker-events.js';
import { debianImage, nodeImage, type ImageDefinition } from './images.js';
import { VmNetwork } from './network.js';
import { startRegistry, type LocalRegistry } from './registry.js';
import type { DockerEvent, DockerEventCounts, DockerEventKind, DockerEventSource, VmInfo } from './types.js';
import { bootVm, hostKeyFingerprint, prepareDisk, type RunningVm } from './vm.js';
import { checkHostSupport } from './preflight.js';

const exec = promisify(execFile);

/** Builds an image for the machine's registry (e.g. the Kafka image), keyed by its repository. */
export type ImageHook = (log: (line: string) => void) => Promise<ImageDefinition>;

export interface VmFleetOptions {
  /** VM disks live under it, one directory per VM name. */
  rootDir: string;
  /** Images the registry serves besides node and debian, by repository, e.g. { 'apache/kafka': hook }. */
  images?: Record<string, ImageHook>;
  /** A temporary folder holding rootDir that is the run's own: swept if the run is killed. */
  ownedDir?: string;
  /** Graceful power-off: how long the engine gets to stop containers. Default 10 000 (Docker's own). */
  stopGraceMs?: number;
  log?: (line: string) => void;
}

interface VmState {
  name: string;
  publicIp: string;
  privateIp: string;
  adminUser: string;
  disk: string;
  fingerprint: string;
  /** The NSGs in force (from ARM); none = a VM the fleet was given directly, unfiltered. */
  inboundRules?: InboundRules;
  vm?: RunningVm;
  events?: DockerEventLog;
}

const KINDS: DockerEventKind[] = ['install', 'build', 'run', 'start', 'restart', 'stop', 'rm', 'exit', 'crash'];

export class VmFleet implements VmPowerHooks {
  readonly sshPort = 22;
  readonly network = new VmNetwork();
  private registry?: LocalRegistry;
  private readonly vms = new Map<string, VmState>();
  private readonly log = new Map<string, DockerEvent[]>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly options: VmFleetOptions) {
    mkdirSync(options.rootDir, { recursive: true });
  }

  /** Brings up the VM network and the registry with the base images (built once per machine). */
  async start(): Promise<void> {
    await checkHostSupport();
    await this.network.start({ ownedDir: this.options.ownedDir });
    try {
      const runDir = `/run/lcm-vms/${this.network.id}`;
      this.registry = await startRegistry({ host: this.network.publicGateway, port: 5000, runDir });
      const log = this.options.log ?? (() => {});
      const images = [nodeImage(log), debianImage(log), ...Object.values(this.options.images ?? {}).map((hook) => hook(log))];
      for (const image of await Promise.all(images)) await this.registry.push(image);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** The address VMs reach the machine on (the LCM API, Azure Files and the registry listen there). */
  get hostAddress(): string {
    return this.network.publicGateway;
  }

  allocatePublic(name: string): string {
    return this.network.allocatePublic(name);
  }

  allocatePrivate(name: string): string {
    return this.network.allocatePrivate(name);
  }

  /** Power operations on one VM run one after the other (ARM may stop and start in quick turns). */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.queues.set(name, next);
    return next;
  }

  private record(vm: string, e: Omit<DockerEvent, 'at'> & { at?: number }): void {
    const list = this.log.get(vm) ?? [];
    list.push({ at: Date.now(), ...e } as DockerEvent);
    this.log.set(vm, list);
  }

  powerOn(spec: VmPowerOn): Promise<void> {
    return this.serial(spec.name, async () => {
      if (!this.registry) throw new Error('the VM fleet is not started (call fleet.start() first)');
      for (const [i, key] of spec.publicKeys.entries()) {
        if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/.test(key.trim())) {
          throw new Error(`VM ${spec.name}: osProfile.linuxConfiguration.ssh.publicKeys[${i}].keyData is not an OpenSSH public key`);
        }
      }
      let st = this.vms.get(spec.name);
      if (st?.vm?.alive) return;
      const disk = join(this.options.rootDir, spec.name);
      await prepareDisk(
        { name: spec.name, disk, adminUser: spec.adminUser, registry: this.registry.address, cgroupParent: `lcm${this.network.id}-${spec.name}` },
        spec.publicKeys,
        spec.customData,
      );
      st = { name: spec.name, publicIp: spec.ip, privateIp: spec.privateIp, adminUser: spec.adminUser, disk, fingerprint: hostKeyFingerprint(disk), inboundRules: spec.inboundRules ?? st?.inboundRules };
      this.vms.set(spec.name, st);
      const link = await this.network.ensureVm(spec.name, spec.privateIp, spec.ip);
      // The namespace outlives a power cycle with the rules in it: the boot probe below (the
      // hypervisor's, not a client's) must not be filtered; they are put back once sshd answers.
      if (st.inboundRules) await applyNsg(link.netns, {}, { vnet: [`${this.network.privatePrefix}.0/24`], privateIp: st.privateIp });
      const bootedAt = Date.now();
      const vm = await bootVm({ name: spec.name, disk, netns: link.netns, publicIp: spec.ip });
      st.vm = vm;
      // The fleet (the hypervisor) saw sshd come up; from here on the NSGs decide who gets in.
      if (st.inboundRules) await this.enforce(st, link.netns);
      const events = new DockerEventLog(
        () => (vm.alive && existsSync(vm.dockerSocket) ? vm.dockerSocket : undefined),
        (e) => this.record(spec.name, e),
        (match, change) => {
          const list = this.log.get(spec.name) ?? [];
          for (let i = list.length - 1; i >= 0; i--) if (match(list[i]!)) return void Object.assign(list[i]!, change);
        },
        bootedAt,
      );
      st.events = events;
      events.start();
      vm.wait().then(() => events.stop());
    });
  }

  /** ARM changed the NSGs in force on a VM: enforce them now if it runs, else at its next power-on. */
  applyInboundRules(name: string, rules: InboundRules): Promise<void> {
    return this.serial(name, async () => {
      const st = this.vms.get(name);
      if (!st) return;
      st.inboundRules = rules;
      const netns = this.network.link(name)?.netns;
      if (st.vm?.alive && netns) await this.enforce(st, netns);
    });
  }

  private async enforce(st: VmState, netns: string): Promise<void> {
    await applyNsg(netns, st.inboundRules!, { vnet: [`${this.network.privatePrefix}.0/24`], privateIp: st.privateIp });
  }

  powerOff(name: string, reason: PowerOffReason): Promise<void> {
    return this.serial(name, async () => {
      const st = this.vms.get(name);
      if (st?.vm) await this.halt(st, reason === 'delete' ? 0 : this.options.stopGraceMs ?? 10_000);
      if (reason === 'delete') {
        this.vms.delete(name);
        await this.network.removeVm(name);
        rmSync(st?.disk ?? join(this.options.rootDir, name), { recursive: true, force: true });
      }
    });
  }

  private async halt(st: VmState, graceMs: number): Promise<void> {
    const vm = st.vm;
    st.vm = undefined;
    await vm?.shutdown(graceMs);
    st.events?.stop();
  }

  private state(name: string): VmState {
    const st = this.vms.get(name);
    if (!st) throw new Error(`VM ${name} is not in the local fleet (known: ${[...this.vms.keys()].join(', ') || 'none'}); power it on first`);
    return st;
  }

  get(name: string): VmInfo | undefined {
    const st = this.vms.get(name);
    if (!st) return undefined;
    return {
      name: st.name,
      ip: st.publicIp,
      privateIp: st.privateIp,
      sshPort: this.sshPort,
      adminUser: st.adminUser,
      hostKeyFingerprint: st.fingerprint,
      disk: st.disk,
      home: join(st.disk, 'home', st.adminUser),
      netns: this.network.link(name)?.netns ?? '',
      running: !!st.vm?.alive,
    };
  }

  list(): VmInfo[] {
    return [...this.vms.keys()].map((n) => this.get(n)!);
  }

  /** Runs the docker CLI against the VM's own engine (from the host, through its socket). */
  async docker(vm: string, args: string[]): Promise<string> {
    const st = this.state(vm);
    if (!st.vm?.alive) throw new Error(`VM ${vm} is not running`);
    try {
      return (await exec('docker', args, { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${st.vm.dockerSocket}` } })).stdout;
    } catch (e) {
      throw new Error(`docker ${args.join(' ')} on VM ${vm}: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
    }
  }

  /**
   * A crash: the container's main process gets SIGKILL inside the VM (not `docker kill`, which
   * Docker counts as a manual stop and never restarts). Its restart policy brings it back, unless
   * stayDown, which first sets the policy to "no".
   */
  async crashContainer(vm: string, container: string, opts: { stayDown?: boolean } = {}): Promise<void> {
    const st = this.state(vm);
    const pid = (await this.docker(vm, ['inspect', '-f', '{{.State.Pid}}', container])).trim();
    if (!/^[1-9]\d*$/.test(pid)) throw new Error(`container ${container} on VM ${vm} is not running (pid "${pid}")`);
    this.record(vm, { kind: 'crash', by: 'control', container, detail: opts.stayDown ? 'stay down' : undefined });
    if (opts.stayDown) await this.docker(vm, ['update', '--restart', 'no', container]);
    st.events?.markCrash(container);
    await st.vm!.inVm(`kill -KILL ${pid}`);
  }

  /** A hung service: `docker pause` (its port accepts nothing, its process stays). */
  async hangContainer(vm: string, container: string): Promise<void> {
    await this.docker(vm, ['pause', container]);
  }

  /** Ends every open SSH connection of the VM abruptly (its per-connection sshd processes); returns how many. */
  async dropSshConnections(vm: string): Promise<number> {
    const st = this.state(vm);
    if (!st.vm?.alive) return 0;
    const running = st.vm;
    const inVm = (cmd: string) => running.inVm(cmd).catch(() => '');
    const listener = (await inVm('cat /run/sshd.pid')).trim();
    if (!/^\d+$/.test(listener)) return 0;
    // Every process below the listener: the per-connection monitors, their unprivileged children
    // (which hold the sockets too) and the sessions' commands.
    const tree = await inVm(
      `for s in /proc/[0-9]*/stat; do read -r pid _ _ ppid _ < "$s" 2>/dev/null && echo "$pid $ppid"; done`,
    );
    const parent = new Map<string, string>(tree.split('\n').filter(Boolean).map((l: string) => l.split(' ') as [string, string]));
    const below = (pid: string): boolean => {
      for (let p = parent.get(pid), n = 0; p && n < 64; p = parent.get(p), n++) if (p === listener) return true;
      return false;
    };
    const victims = [...parent.keys()].filter(below);
    const connections = victims.filter((p) => parent.get(p) === listener);
    if (victims.length > 0) await inVm(`kill -KILL ${victims.join(' ')}`);
    return connections.length;
  }

  /** Power loss: every process of the VM killed at once. The ARM side is not told (it still shows running). */
  killVm(vm: string): Promise<void> {
    return this.serial(vm, async () => {
      const st = this.state(vm);
      if (st.vm) await this.halt(st, 0);
    });
  }

  /** A network partition: the VM's link goes down (up: false) or comes back. */
  setLink(vm: string, up: boolean): Promise<void> {
    return this.network.setLink(vm, up);
  }

  events(vm: string): DockerEvent[] {
    const st = this.vms.get(vm);
    const installs: DockerEvent[] = [];
    const file = st ? join(st.disk, 'state/events.jsonl') : undefined;
    if (file && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) installs.push({ at: 0, ...(JSON.parse(line) as Omit<DockerEvent, 'at'>) });
    }
    return [...installs, ...(this.log.get(vm) ?? [])];
  }

  /** Events per kind; `by` restricts to one cause (e.g. 'cli' = what commands on the VM did). */
  counts(vm: string, filter: { by?: DockerEventSource } = {}): DockerEventCounts {
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as DockerEventCounts;
    for (const e of this.events(vm)) if (!filter.by || e.by === filter.by) counts[e.kind]++;
    return counts;
  }

  /** Host pids of the VM's processes right now (init, sshd, dockerd, containers, sessions). */
  async pids(vm: string): Promise<number[]> {
    const netns = this.network.link(vm)?.netns;
    if (!netns) return [];
    const out = await exec('ip', ['netns', 'pids', netns]).then((r) => r.stdout).catch(() => '');
    return out.split(/\s+/).filter(Boolean).map(Number);
  }

  /** Every VM powered off at once (a power loss), then the network and registry removed. */
  async stop(): Promise<void> {
    await Promise.all([...this.vms.values()].map((st) => this.serial(st.name, async () => {
      if (st.vm) await this.halt(st, 0);
    })));
    await this.registry?.stop().catch(() => undefined);
    this.registry = undefined;
    await this.network.stop().catch(() => undefined);
  }
}

export function createVmFleet(options: VmFleetOptions): VmFleet {
  return new VmFleet(options);
}
