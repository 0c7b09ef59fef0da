/**
 * One container of the emulated engine: its service process (a real process in its own process
 * group, or a special in-process image), its port proxies, its logs and Docker's restart policies
 * (always / unless-stopped / on-failure[:max] / no) with Docker's doubling back-off.
 */
import type { EngineOptions } from './engine.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { killGroup } from '../proc.js';
import type { DockerEventKind, DockerEventSource } from '../types.js';

export interface PortBinding { hostIp: string; hostPort: number; containerPort: number }
export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';
export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited';

/** What is persisted in the VM's sandbox (survives power cycles and a new fleet on the same dir). */
export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: number;
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  ports: PortBinding[];
  restart: { name: RestartPolicyName; max: number };
  special?: string;
  state: {
    status: ContainerStatus;
    exitCode: number;
    startedAt: number;
    finishedAt: number;
    restartCount: number;
    /** `docker stop`/`kill`: unless-stopped does not come back on boot. */
    manuallyStopped: boolean;
    /** Running when the VM lost power: on-failure containers come back on boot. */
    runningAtPowerOff: boolean;
    pid: number;
  };
}

/** What a container needs of its engine (`path`: no sandbox bin, a container has no docker CLI). */
export interface ContainerDeps
  extends Pick<EngineOptions, 'vm' | 'ip' | 'path' | 'token' | 'tokenVar' | 'specials' | 'restartDelayMs' | 'restartDelayMaxMs'> {
  record: (kind: DockerEventKind, by: DockerEventSource, container: string, detail?: string) => void;
  save: () => void;
}

/** A start that failed before the service ran; `code` is what `docker run/start` exits with. */
export class StartError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

interface LogEntry { stream: 'stdout' | 'stderr'; text: string }
const LOG_LIMIT = 1 << 20;
/** Docker resets its restart back-off after a container ran this long. */
const BACKOFF_RESET_MS = 10_000;

export class Container {
  private child?: ChildProcess;
  private specialHandle?: { stop(): Promise<void> };
  private proxies: { server: NetServer; sockets: Set<Socket> }[] = [];
  private timer?: NodeJS.Timeout;
  private backoff: number;
  /** Set while the engine itself ends the run (stop, rm -f, power-off): no restart policy then. */
  private halting = false;
  private haltedBy: DockerEventSource = 'cli';
  /** A crash "beyond the restart policy": stays down until started again. */
  private stayDown = false;
  private runEnded: Promise<void> = Promise.resolve();
  private endRun: () => void = () => undefined;
  private logs: LogEntry[] = [];
  private logSize = 0;

  constructor(readonly rec: ContainerRecord, private readonly deps: ContainerDeps) {
    this.backoff = deps.restartDelayMs;
  }

  get status(): ContainerStatus {
    return this.rec.state.status;
  }

  get running(): boolean {
    return this.rec.state.status === 'running';
  }

  pids(): number[] {
    return this.child?.pid ? [this.child.pid] : [];
  }

  readLogs(): LogEntry[] {
    return this.logs;
  }

  private log(stream: 'stdout' | 'stderr', text: string): void {
    this.logs.push({ stream, text });
    this.logSize += text.length;
    while (this.logSize > LOG_LIMIT && this.logs.length > 1) this.logSize -= this.logs.shift()!.text.length;
  }

  /** Starts the service (docker start/run, boot). Throws StartError with docker's message. */
  async start(): Promise<void> {
    if (this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stayDown = false;
    this.rec.state.manuallyStopped = false;
    this.rec.state.runningAtPowerOff = false;
    this.backoff = this.deps.restartDelayMs;
    await this.run();
  }

  private async run(): Promise<void> {
    const ip = this.deps.ip();
    await this.openPorts(ip);
    this.runEnded = new Promise<void>((r) => (this.endRun = r));
    const s = this.rec.state;
    s.status = 'running';
    s.startedAt = Date.now();
    const env = this.processEnv(ip);
    if (this.rec.special) {
      const special = this.deps.specials[this.rec.special];
      s.pid = 0;
      this.deps.save();
      try {
        if (!special) throw new Error(`no in-process implementation registered for image base "${this.rec.special}"`);
        this.specialHandle = await special.start({
          vm: this.deps.vm,
          ip,
          port: Number(env.PORT),
          env,
          logs: (line) => this.log('stdout', line.endsWith('\n') ? line : `${line}\n`),
        });
      } catch (err) {
        this.log('stderr', `${(err as Error).message}\n`);
        setImmediate(() => this.exited(1));
      }
      return;
    }
    const [cmd, ...args] = this.rec.cmd;
    const child = spawn(cmd, args, { cwd: this.rec.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      this.closePorts();
      s.status = 'exited';
      s.exitCode = 127;
      s.finishedAt = Date.now();
      this.endRun();
      this.deps.save();
      throw new StartError(
        `failed to create task for container: OCI runtime create failed: exec: "${cmd}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'executable file not found in $PATH' : (err as Error).message}: unknown`,
        127,
      );
    }
    this.child = child;
    s.pid = child.pid ?? 0;
    child.stdout?.on('data', (d: Buffer) => this.log('stdout', d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => this.log('stderr', d.toString('utf8')));
    child.once('exit', (code, signal) => {
      this.child = undefined;
      this.exited(code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9));
    });
    this.deps.save();
  }

  private processEnv(ip: string): Record<string, string> {
    const env: Record<string, string> = { PATH: this.deps.path, HOSTNAME: this.rec.id.slice(0, 12), HOME: this.rec.cwd, ...this.rec.env };
    const port = this.rec.ports[0]?.containerPort;
    if (env.PORT === undefined && port !== undefined) env.PORT = String(port);
    env.HOST = ip; // the VM's own address: two VMs can serve the same port
    env[this.deps.tokenVar] = this.deps.token;
    return env;
  }

  /** The run ended (process exit, crash, special failure): apply the restart policy. */
  private exited(code: number): void {
    const s = this.rec.state;
    if (s.status !== 'running') return;
    this.closePorts();
    this.specialHandle = undefined;
    const ranMs = Date.now() - s.startedAt;
    s.status = 'exited';
    s.exitCode = code;
    s.finishedAt = Date.now();
    s.pid = 0;
    this.deps.record('exit', this.halting ? this.haltedBy : 'process', this.rec.name, `exit code ${code}`);
    this.endRun();
    if (!this.halting && !this.stayDown && this.policyRestarts(code)) {
      if (ranMs >= BACKOFF_RESET_MS) this.backoff = this.deps.restartDelayMs;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.deps.restartDelayMaxMs);
      s.status = 'restarting';
      this.timer = setTimeout(() => this.policyRestart(), delay);
    }
    this.deps.save();
  }

  private policyRestarts(code: number): boolean {
    const { name, max } = this.rec.restart;
    if (name === 'always' || name === 'unless-stopped') return true;
    if (name === 'on-failure') return code !== 0 && (max === 0 || this.rec.state.restartCount < max);
    return false;
  }

  private policyRestart(): void {
    this.timer = undefined;
    this.rec.state.status = 'exited';
    this.rec.state.restartCount++;
    this.deps.record('restart', 'policy', this.rec.name);
    this.run().catch((err: Error) => {
      // e.g. the port is taken meanwhile: count it as a failed run, as Docker does
      this.log('stderr', `${err.message}\n`);
      this.rec.state.status = 'running';
      this.exited(err instanceof StartError ? err.code : 128);
    });
  }

  /** Ends the run without the restart policy; SIGTERM first unless graceMs is 0. */
  async halt(graceMs: number, by: DockerEventSource): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.rec.state;
    if (s.status === 'restarting') {
      s.status = 'exited';
      this.deps.save();
      return;
    }
    if (s.status !== 'running') return;
    this.halting = true;
    this.haltedBy = by;
    try {
      if (this.specialHandle || this.rec.special) {
        const handle = this.specialHandle;
        await handle?.stop().catch(() => undefined);
        this.exited(graceMs > 0 ? 143 : 137);
      } else {
        const pid = this.child?.pid;
        killGroup(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
        if (graceMs > 0) {
          const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
          if ((await Promise.race([this.runEnded.then(() => 'ended' as const), timeout])) === 'timeout') killGroup(pid, 'SIGKILL');
        }
        await this.runEnded;
      }
    } finally {
      this.halting = false;
    }
  }

  /** docker stop / kill. */
  async stop(graceMs: number): Promise<void> {
    this.rec.state.manuallyStopped = true;
    await this.halt(graceMs, 'cli');
    this.deps.save();
  }

  /** Kills the service like an outside failure; the restart policy applies unless stayDown. */
  async crash(stayDown: boolean): Promise<void> {
    if (!this.running) throw new Error(`container ${this.rec.name} on VM ${this.deps.vm} is not running (${this.status}); nothing to crash`);
    this.stayDown = stayDown;
    const ended = this.runEnded;
    if (this.rec.special) {
      await this.specialHandle?.stop().catch(() => undefined);
      this.exited(137);
    } else killGroup(this.child?.pid, 'SIGKILL');
    await ended;
  }

  /** The VM loses power (graceful: shutdown with SIGTERM first). The definition stays. */
  async powerDown(graceMs: number): Promise<void> {
    const wasUp = this.status === 'running' || this.status === 'restarting';
    await this.halt(graceMs, 'power');
    this.rec.state.runningAtPowerOff = wasUp;
    this.deps.save();
  }

  /** After power-on: what Docker's daemon restarts at boot. */
  startsAtBoot(): boolean {
    const { name } = this.rec.restart;
    const s = this.rec.state;
    return name === 'always' || (name === 'unless-stopped' && !s.manuallyStopped) || (name === 'on-failure' && s.runningAtPowerOff);
  }

  private async openPorts(ip: string): Promise<void> {
    for (const b of this.rec.ports) {
      // Docker's proxy takes the host port first: a taken port fails the start, not the service.
      const sockets = new Set<Socket>();
      const server = createServer((client) => {
        const upstream = connect(b.containerPort, ip);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => { client.destroy(); upstream.destroy(); });
        }
        client.pipe(upstream).pipe(client);
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(b.hostPort, ip, () => resolve());
        });
      } catch (err) {
        this.closePorts();
        throw new StartError(
          `driver failed programming external connectivity on endpoint ${this.rec.name} (${this.rec.id.slice(0, 12)}): Bind for ${ip}:${b.hostPort} failed: port is already allocated (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          125,
        );
      }
      // Same host and container port: that was only a probe, the service binds the port itself.
      if (b.hostPort === b.containerPort) await new Promise<void>((r) => server.close(() => r()));
      else this.proxies.push({ server, sockets });
    }
  }

  private closePorts(): void {
    for (const p of this.proxies) {
      p.server.close();
      for (const s of p.sockets) s.destroy();
    }
    this.proxies = [];
  }
}
