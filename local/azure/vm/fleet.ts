/**
 * The emulated VM fleet: makes a VM the ARM emulator powers on real. Each VM gets an SSH server on
 * its own loopback address, a sandbox directory (home, stand-in tools, image store, host key) and a
 * Docker engine whose containers are real processes. The fleet also offers the control surface
 * tests, benchmarks and demos use to inject faults and to inspect what happened on a VM.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PowerOffReason, VmPowerHooks, VmPowerOn } from '../types.js';
import { DockerEngine } from './docker/engine.js';
import { EngineSocket } from './docker/socket.js';
import { loadOrCreateHostKey } from './host-key.js';
import { killAllWithToken, pidsWithToken, TOKEN_VAR } from './proc.js';
import { prepareSandbox, sandboxLayout, vmSystemPath, type SandboxLayout } from './sandbox.js';
import { parsePublicKeys, VmSshServer } from './ssh-server.js';
import type { DockerEvent, DockerEventCounts, DockerEventKind, DockerEventSource, SpecialImage, VmInfo } from './types.js';

export interface VmFleetOptions {
  /** Sandboxes live under it, one directory per VM name. */
  rootDir: string;
  /** Every VM listens on its own loopback address at this port. Default 2222. */
  sshPort?: number;
  /** In-process images by base name, e.g. { 'apache/kafka': broker }. */
  images?: Record<string, SpecialImage>;
  /** First restart-policy delay; doubles per restart up to restartDelayMaxMs. Default 100 (Docker). */
  restartDelayMs?: number;
  /** Default 10 000 (Docker caps at 60 s; shorter keeps local runs lively). */
  restartDelayMaxMs?: number;
  /** `docker stop`/`restart` and graceful power-off: SIGTERM, then SIGKILL after this. Default 10 000 (Docker). */
  stopGraceMs?: number;
}

interface VmState {
  name: string;
  ip: string;
  adminUser: string;
  layout: SandboxLayout;
  token: string;
  fingerprint: string;
  running: boolean;
  engine: DockerEngine;
  ssh?: VmSshServer;
  socket?: EngineSocket;
}

const KINDS: DockerEventKind[] = ['install', 'build', 'run', 'start', 'restart', 'stop', 'rm', 'exit', 'crash'];

export class VmFleet implements VmPowerHooks {
  readonly sshPort: number;
  private readonly id = randomBytes(4).toString('hex');
  private readonly vms = new Map<string, VmState>();
  private readonly log = new Map<string, DockerEvent[]>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private hostPath?: string;

  constructor(private readonly options: VmFleetOptions) {
    this.sshPort = options.sshPort ?? 2222;
    mkdirSync(options.rootDir, { recursive: true });
  }

  /** Power operations on one VM run one after the other (ARM may stop and start in quick turns). */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.queues.set(name, next);
    return next;
  }

  private systemPath(): string {
    this.hostPath ??= vmSystemPath(join(this.options.rootDir, '.lcm-host-path'), dirname(process.execPath));
    return this.hostPath;
  }

  private record(vm: string, e: Omit<DockerEvent, 'at'>): void {
    const list = this.log.get(vm) ?? [];
    list.push({ at: Date.now(), ...e });
    this.log.set(vm, list);
  }

  private socketPath(layout: SandboxLayout, name: string): string {
    const inSandbox = join(layout.root, 'run', 'docker.sock');
    // Unix socket paths are limited to ~107 bytes.
    if (inSandbox.length < 100) return inSandbox;
    return join(tmpdir(), `lcm-${this.id}-${createHash('sha256').update(name).digest('hex').slice(0, 10)}.sock`);
  }

  powerOn(vm: VmPowerOn): Promise<void> {
    return this.serial(vm.name, async () => {
      parsePublicKeys(vm.name, vm.publicKeys); // bad keys: fail before anything starts
      let st = this.vms.get(vm.name);
      if (st?.running) {
        st.ssh?.setPublicKeys(vm.publicKeys);
        return;
      }
      const layout = sandboxLayout(this.options.rootDir, vm.name, vm.adminUser);
      const sock = this.socketPath(layout, vm.name);
      mkdirSync(dirname(sock), { recursive: true });
      prepareSandbox(layout, sock);
      const hostKey = loadOrCreateHostKey(layout.hostKeyFile);
      if (!st || st.adminUser !== vm.adminUser) {
        const token = `${this.id}.${vm.name}`;
        const engine = new DockerEngine({
          vm: vm.name,
          ip: () => this.vms.get(vm.name)?.ip ?? vm.ip,
          stateDir: layout.dockerState,
          path: this.systemPath(),
          token,
          tokenVar: TOKEN_VAR,
          specials: this.options.images ?? {},
          restartDelayMs: this.options.restartDelayMs ?? 100,
          restartDelayMaxMs: this.options.restartDelayMaxMs ?? 10_000,
          stopGraceMs: this.options.stopGraceMs ?? 10_000,
          record: (e) => this.record(vm.name, e),
        });
        const state: VmState = { name: vm.name, ip: vm.ip, adminUser: vm.adminUser, layout, token, fingerprint: hostKey.fingerprint, running: false, engine };
        st = state;
        this.vms.set(vm.name, st);
      }
      st.ip = vm.ip;
      st.fingerprint = hostKey.fingerprint;
      const engine = st.engine;
      const socket = new EngineSocket(sock, (req) => engine.handle(req));
      await socket.listen();
      const ssh = new VmSshServer({
        vm: vm.name,
        ip: vm.ip,
        port: this.sshPort,
        hostKey: hostKey.privateKey,
        adminUser: vm.adminUser,
        publicKeys: vm.publicKeys,
        sandbox: layout.root,
        home: layout.home,
        env: {
          HOME: layout.home,
          USER: vm.adminUser,
          LOGNAME: vm.adminUser,
          SHELL: '/bin/bash',
          LANG: 'C.UTF-8',
          PATH: `${layout.bin}:${this.systemPath()}`,
          LCM_VM_NAME: vm.name,
          LCM_VM_DOCKER_SOCK: sock,
          [TOKEN_VAR]: st.token,
        },
      });
      try {
        await ssh.listen();
      } catch (err) {
        await socket.close();
        throw err;
      }
      Object.assign(st, { ssh, socket, running: true });
      await st.engine.boot();
    });
  }

  powerOff(name: string, reason: PowerOffReason): Promise<void> {
    return this.serial(name, async () => {
      const st = this.vms.get(name);
      if (st?.running) await this.halt(st, this.options.stopGraceMs ?? 10_000);
      if (reason === 'delete') {
        this.vms.delete(name);
        rmSync(st?.layout.root ?? join(this.options.rootDir, name), { recursive: true, force: true });
      }
    });
  }

  private async halt(st: VmState, graceMs: number): Promise<void> {
    st.running = false;
    await st.ssh?.close(graceMs > 0);
    st.ssh = undefined;
    await st.engine.powerDown(graceMs);
    await killAllWithToken(st.token); // anything started in the background (setsid ... &)
    await st.socket?.close();
    st.socket = undefined;
  }

  private state(name: string): VmState {
    const st = this.vms.get(name);
    if (!st) throw new Error(`VM ${name} is not in the emulated fleet (known: ${[...this.vms.keys()].join(', ') || 'none'}); power it on first`);
    return st;
  }

  get(name: string): VmInfo | undefined {
    const st = this.vms.get(name);
    if (!st) return undefined;
    return {
      name: st.name,
      ip: st.ip,
      sshPort: this.sshPort,
      adminUser: st.adminUser,
      hostKeyFingerprint: st.fingerprint,
      sandbox: st.layout.root,
      home: st.layout.home,
      running: st.running,
    };
  }

  list(): VmInfo[] {
    return [...this.vms.keys()].map((n) => this.get(n)!);
  }

  /** Kills a container's service process. Without stayDown its restart policy brings it back. */
  async crashContainer(vm: string, container: string, opts: { stayDown?: boolean } = {}): Promise<void> {
    const st = this.state(vm);
    const c = st.engine.container(container);
    if (!c) throw new Error(`VM ${vm} has no container "${container}"; see fleet.events('${vm}') for what ran there`);
    this.record(vm, { kind: 'crash', by: 'control', container: c.rec.name, image: c.rec.image, detail: opts.stayDown ? 'stay down' : undefined });
    await c.crash(!!opts.stayDown);
  }

  /** Ends every open SSH connection of the VM abruptly; returns how many there were. */
  dropSshConnections(vm: string): number {
    return this.state(vm).ssh?.dropConnections() ?? 0;
  }

  /** Power loss: SSH and every process gone at once. The ARM side is not told (it still shows running). */
  killVm(vm: string): Promise<void> {
    return this.serial(vm, async () => {
      const st = this.state(vm);
      if (st.running) await this.halt(st, 0);
    });
  }

  events(vm: string): DockerEvent[] {
    return [...(this.log.get(vm) ?? [])];
  }

  /** Events per kind; `by` restricts to one cause (e.g. 'cli' = what commands on the VM did). */
  counts(vm: string, filter: { by?: DockerEventSource } = {}): DockerEventCounts {
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as DockerEventCounts;
    for (const e of this.log.get(vm) ?? []) if (!filter.by || e.by === filter.by) counts[e.kind]++;
    return counts;
  }

  /** Pids of the VM's processes right now (execs, services and anything they started). */
  pids(vm: string): number[] {
    const st = this.state(vm);
    return [...new Set([...(st.ssh?.execPids() ?? []), ...st.engine.pids(), ...pidsWithToken(st.token)])];
  }

  /** Stops every SSH server and every process of every VM (as a power loss); sandboxes stay. */
  async stop(): Promise<void> {
    await Promise.all([...this.vms.values()].map((st) => this.serial(st.name, async () => {
      if (st.running) await this.halt(st, 0);
    })));
  }
}

export function createVmFleet(options: VmFleetOptions): VmFleet {
  return new VmFleet(options);
}
