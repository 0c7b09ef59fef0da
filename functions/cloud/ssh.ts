/**
 * Commands on a VM over SSH (node-ssh). Host keys are pinned: the LCM pins a VM's key when it
 * creates the VM (host-keys.ts), so the first connection verifies; a pin store may also leave a VM
 * unpinned (undefined: the key shown is pinned, after an operator's reset) or refuse it
 * (HostKeyUnknownError); a key other than the pinned one is refused. Exit codes are checked, commands time out, and a
 * connection lost mid-command is retried (the LCM's VM scripts are idempotent "ensure" scripts).
 */
import { createHash } from 'node:crypto';
import { NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';

/** Where pinned host-key fingerprints live (the central database in the LCM). */
export interface HostKeyPins {
  getHostKey(vm: string): Promise<string | undefined>;
  pinHostKey(vm: string, fingerprint: string): Promise<void>;
}

export interface SshTarget {
  vm: string;
  host: string;
  port?: number;
  username: string;
  /** The private key itself: read from a secret setting inside the activity, never passed around. */
  privateKey: string;
}

export interface SshOptions {
  pins: HostKeyPins;
  /** Reuse connections across SshHost instances (activities) of this process; default: one connection per SshHost. */
  pool?: SshPool;
  connectTimeoutInMs?: number;
  /** Attempts for connecting and for a command whose connection drops. */
  maxAttempts?: number;
  retryDelayInMs?: number;
}

export interface RunOptions {
  timeoutInMs?: number;
  stdin?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Human name of the step for errors ("install Docker"). */
  step?: string;
}

export interface RunResult {
  code: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export class HostKeyMismatchError extends Error {
  readonly code = 'host-key-mismatch';
  constructor(readonly vm: string, readonly pinned: string, readonly presented: string) {
    super(
      `VM "${vm}": SSH host key mismatch: pinned ${pinned}, presented ${presented}. ` +
        `Refusing to connect. If the VM was recreated on purpose, reset its pinned host key with \`bootstrap-cli reset-host-key ${vm}\` ` +
        `(POST /api/vms/${vm}/reset-host-key, operators' key); otherwise investigate.`,
    );
    this.name = 'HostKeyMismatchError';
  }
}

/** No host key is known for the VM: nothing to verify the server against, so nothing is sent. */
export class HostKeyUnknownError extends Error {
  readonly code = 'host-key-unknown';
  constructor(readonly vm: string) {
    super(
      `VM "${vm}": no SSH host key is pinned for it (the LCM pins one when it creates a VM). Refusing to connect. ` +
        `If the VM was created outside the LCM and you trust it, allow its next key with \`bootstrap-cli reset-host-key ${vm}\` ` +
        `(POST /api/vms/${vm}/reset-host-key, operators' key).`,
    );
    this.name = 'HostKeyUnknownError';
  }
}

/**
 * A command that exited non-zero. The message names the VM, the step and the exit code only: command
 * output can hold anything a service printed (its configuration, its secrets) and an activity's
 * error lands in orchestration history. The output stays on the object for in-process callers, as a
 * non-enumerable property, so no serializer picks it up.
 */
export class SshCommandError extends Error {
  declare readonly output: string;
  constructor(
    readonly vm: string,
    readonly step: string,
    readonly code: number | null,
    output: string,
    hint = '',
  ) {
    super(`VM "${vm}": ${step} failed (exit ${code ?? 'signal'})${hint ? `; ${hint}` : ''}`);
    this.name = 'SshCommandError';
    Object.defineProperty(this, 'output', { value: output, enumerable: false });
  }
}

export class SshConnectionError extends Error {
  constructor(readonly vm: string, readonly host: string, cause: string) {
    super(`VM "${vm}": cannot reach SSH at ${host}: ${cause}. Check that the VM runs and its network security group allows SSH.`);
    this.name = 'SshConnectionError';
  }
}

/** Keeps error output short: the last lines are what explain a failure. */
export function tail(text: string, lines = 20, chars = 2000): string {
  const kept = text.trimEnd().split('\n').slice(-lines).join('\n');
  return kept.length > chars ? `…${kept.slice(-chars)}` : kept;
}

// "Timed out while waiting for handshake": sshd of a VM that is still booting accepts the TCP
// connection before it can answer (ssh2's readyTimeout); EHOSTUNREACH while its network comes up.
const CONNECTION_LOST = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|Not connected|No response from server|Connection lost|socket hang up|Channel open failure|connection closed|closed by remote|Keepalive timeout|Timed out while waiting for handshake/i;

export class SshHost {
  private ssh?: NodeSSH;
  private lease?: SshLease;
  private readonly port: number;

  constructor(
    readonly target: SshTarget,
    private readonly options: SshOptions,
  ) {
    this.port = target.port ?? 22;
  }

  get vm(): string {
    return this.target.vm;
  }

  /** Runs a bash command; throws SshCommandError on a non-zero exit unless allowFailure. */
  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    const attempts = this.options.maxAttempts ?? 3;
    const step = opts.step ?? 'command';
    for (let attempt = 1; ; attempt++) {
      try {
        const ssh = await this.connection();
        const result = await this.exec(ssh, command, opts);
        // A channel that closes with neither exit code nor signal lost its connection.
        if (result.code === null && !result.signal) throw new Error('Connection lost');
        if (result.code !== 0 && !opts.allowFailure) {
          throw new SshCommandError(this.vm, step, result.code, tail(`${result.stdout}\n${result.stderr}`));
        }
        return result;
      } catch (e) {
        const err = e as Error;
        if (err instanceof SshCommandError || err instanceof HostKeyMismatchError || err instanceof HostKeyUnknownError) throw err;
        this.drop();
        if (attempt >= attempts || !CONNECTION_LOST.test(err.message)) {
          if (err instanceof SshConnectionError || err.name === 'TimeoutError') throw err;
          throw new SshConnectionError(this.vm, `${this.target.host}:${this.port}`, err.message);
        }
        await delay((this.options.retryDelayInMs ?? 500) * attempt);
      }
    }
  }

  /** Done with this host: a pooled connection goes back to the pool (closed when idle), an own one is closed. */
  dispose(): void {
    if (this.lease) {
      this.lease.release();
      this.lease = undefined;
      this.ssh = undefined;
      return;
    }
    this.drop();
  }

  /** The connection failed: never hand it out again. */
  private drop(): void {
    if (this.lease) {
      this.lease.discard();
      this.lease = undefined;
    } else this.ssh?.dispose();
    this.ssh = undefined;
  }

  private async connection(): Promise<NodeSSH> {
    if (this.ssh?.isConnected()) return this.ssh;
    if (this.lease) this.drop();
    const pinned = await this.options.pins.getHostKey(this.vm);
    const pool = this.options.pool;
    if (pool) {
      // The pin is part of the key: a connection is reused only for the host key it verified.
      const key = poolKey(this.target, this.port);
      this.lease = await pool.acquire(key, pinned, () => this.open(pinned, false));
      this.ssh = this.lease.ssh;
      return this.ssh;
    }
    const { ssh } = await this.open(pinned, true);
    this.ssh = ssh;
    return ssh;
  }

  /** One handshake: connect, verify (or pin) the host key. */
  private async open(pinned: string | undefined, ownErrorHandler: boolean): Promise<{ ssh: NodeSSH; fingerprint?: string }> {
    let presented: string | undefined;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: this.target.host,
        port: this.port,
        username: this.target.username,
        privateKey: this.target.privateKey,
        readyTimeout: this.options.connectTimeoutInMs ?? 20_000,
        keepaliveInterval: 10_000,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOf(key);
          return pinned === undefined || pinned === presented;
        },
      });
    } catch (e) {
      ssh.dispose();
      if (pinned !== undefined && presented !== undefined && presented !== pinned) {
        throw new HostKeyMismatchError(this.vm, pinned, presented);
      }
      throw e;
    }
    // node-ssh leaves no error listener once connected: a VM going down would crash the process.
    // (A pooled connection gets the pool's listener instead.)
    if (ownErrorHandler) ssh.connection?.on('error', () => this.drop());
    if (pinned === undefined && presented !== undefined) await this.options.pins.pinHostKey(this.vm, presented);
    // Nagle costs ~40 ms per exec on small writes.
    (ssh.connection as unknown as { _sock?: { setNoDelay?: (v: boolean) => void } })?._sock?.setNoDelay?.(true);
    return { ssh, fingerprint: presented };
  }

  private exec(ssh: NodeSSH, command: string, opts: RunOptions): Promise<RunResult> {
    const timeoutInMs = opts.timeoutInMs ?? 120_000;
    let channel: ClientChannel | undefined;
    let timer: NodeJS.Timeout | undefined;
    const run = ssh
      .execCommand(command, {
        stdin: opts.stdin,
        noTrim: true,
        onChannel: (c) => {
          channel = c;
        },
      })
      .then((r) => ({ code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr }));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        channel?.close();
        const err = new Error(`VM "${this.vm}": ${opts.step ?? 'command'} timed out after ${timeoutInMs} ms`);
        err.name = 'TimeoutError';
        reject(err);
      }, timeoutInMs);
    });
    return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
  }
}

/** Host, port, user and (a hash of) the key: what must match for a connection to be shared. */
function poolKey(target: SshTarget, port: number): string {
  const keyHash = createHash('sha256').update(target.privateKey).digest('base64').slice(0, 16);
  return `${target.username}@${target.host}:${port}#${keyHash}`;
}

/** A connection borrowed from the pool for one SshHost's life. */
export interface SshLease {
  readonly ssh: NodeSSH;
  /** Give it back: it stays open for the next activity, and closes after the pool's idle time. */
  release(): void;
  /** It failed: close it and never hand it out again. */
  discard(): void;
}

interface Pooled {
  key: string;
  /** The pin the handshake was asked to verify (while it is still under way). */
  pin?: string;
  /** The host key the handshake verified; undefined until it completed. */
  fingerprint?: string;
  ready: Promise<NodeSSH>;
  ssh?: NodeSSH;
  leases: number;
  dead: boolean;
  idle?: NodeJS.Timeout;
}

export interface SshPoolOptions {
  /** Close a connection nobody used for this long (default 30 s). */
  idleMs?: number;
  /**
   * SshHosts sharing one connection at most (default 4): each may open a channel at a time, and
   * OpenSSH allows 10 sessions per connection (MaxSessions); beyond this, another connection opens.
   */
  maxLeasesPerConnection?: number;
}

/**
 * SSH connections kept open across the activities one worker runs, instead of a handshake per
 * activity. Keyed by host, port, user, key and the pinned host-key fingerprint: a connection is
 * handed out only for the pin it verified, so a changed or reset pin always means a new handshake.
 * A connection that errors or closes leaves the pool at once; SshHost reconnects on its next try.
 */
export class SshPool {
  private readonly connections = new Map<string, Pooled[]>();
  /** Handshakes this pool made (what reuse saves; read by tests and benches). */
  handshakes = 0;

  constructor(private readonly options: SshPoolOptions = {}) {}

  async acquire(key: string, pinned: string | undefined, open: () => Promise<{ ssh: NodeSSH; fingerprint?: string }>): Promise<SshLease> {
    const max = this.options.maxLeasesPerConnection ?? 4;
    const list = this.connections.get(key) ?? [];
    // Unpinned (first contact): always a fresh handshake, which pins what it sees.
    let entry =
      pinned === undefined
        ? undefined
        : list.find((c) => !c.dead && c.leases < max && (c.fingerprint === pinned || (c.fingerprint === undefined && c.ssh === undefined && c.pin === pinned)));
    if (!entry) {
      const created: Pooled = { key, leases: 0, dead: false, pin: pinned, ready: Promise.resolve(undefined as unknown as NodeSSH) };
      this.handshakes += 1;
      created.ready = open().then(
        ({ ssh, fingerprint }) => {
          created.ssh = ssh;
          created.fingerprint = fingerprint;
          const gone = () => this.evict(created);
          ssh.connection?.on('error', gone);
          ssh.connection?.on('close', gone);
          return ssh;
        },
        (e: unknown) => {
          this.evict(created);
          throw e;
        },
      );
      list.push(created);
      this.connections.set(key, list);
      entry = created;
    }
    const e = entry;
    e.leases += 1;
    if (e.idle) clearTimeout(e.idle);
    e.idle = undefined;
    let ssh: NodeSSH;
    try {
      ssh = await e.ready;
    } catch (err) {
      e.leases -= 1;
      throw err;
    }
    if (e.dead || !ssh.isConnected()) {
      e.leases -= 1;
      this.evict(e);
      throw new Error('Connection lost');
    }
    let returned = false;
    return {
      ssh,
      release: () => {
        if (returned) return;
        returned = true;
        e.leases -= 1;
        if (e.dead) {
          if (e.leases <= 0) e.ssh?.dispose();
        } else if (e.leases === 0) {
          e.idle = setTimeout(() => this.evict(e), this.options.idleMs ?? 30_000);
          e.idle.unref();
        }
      },
      discard: () => {
        if (returned) return;
        returned = true;
        e.leases -= 1;
        this.evict(e);
      },
    };
  }

  /** Open connections (for tests). */
  get size(): number {
    let n = 0;
    for (const list of this.connections.values()) n += list.filter((c) => !c.dead).length;
    return n;
  }

  /** Close every connection (a worker shutting down, or a test's end). */
  closeAll(): void {
    for (const list of [...this.connections.values()]) for (const c of [...list]) this.evict(c);
  }

  private evict(c: Pooled): void {
    if (!c.dead) {
      c.dead = true;
      const list = this.connections.get(c.key);
      if (list) {
        const i = list.indexOf(c);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.connections.delete(c.key);
      }
    }
    if (c.idle) clearTimeout(c.idle);
    c.idle = undefined;
    // Close once nobody holds it (a holder that finds it dead reconnects).
    if (c.leases <= 0) c.ssh?.dispose();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
