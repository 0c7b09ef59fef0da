/**
 * One VM's SSH server: ssh2 on the VM's own loopback address, public-key auth for the admin user,
 * `bash -c <command>` per exec (cwd and HOME = the VM's home, PATH = sandbox bin first) and a
 * minimal SFTP. Sockets are ours (net.Server + injectSocket) so that we can set TCP_NODELAY and
 * drop every connection abruptly on demand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel } from 'ssh2';
import { killGroup } from './proc.js';
import { serveSftp } from './sftp.js';

export interface VmSshOptions {
  vm: string;
  ip: string;
  port: number;
  hostKey: string;
  adminUser: string;
  publicKeys: string[];
  sandbox: string;
  home: string;
  /** The environment of every exec (no variable of the test process leaks in). */
  env: Record<string, string>;
}

export function parsePublicKeys(vm: string, keys: string[]): ParsedKey[] {
  return keys.map((text, i) => {
    const parsed = ssh2.utils.parseKey(text.trim());
    if (parsed instanceof Error) {
      throw new Error(`VM ${vm}: publicKeys[${i}] is not an OpenSSH public key (${parsed.message}); pass keyData like "ssh-ed25519 AAAA..."`);
    }
    return Array.isArray(parsed) ? parsed[0] : parsed;
  });
}

export class VmSshServer {
  private readonly net: NetServer;
  private readonly ssh: InstanceType<typeof ssh2.Server>;
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcess>();
  private keys: ParsedKey[];

  constructor(private readonly opts: VmSshOptions) {
    this.keys = parsePublicKeys(opts.vm, opts.publicKeys);
    this.ssh = new ssh2.Server({ hostKeys: [opts.hostKey] }, (client) => this.onClient(client));
    this.net = createServer((socket) => {
      socket.setNoDelay(true); // one exec costs ~4 ms instead of ~48 ms (Nagle)
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.ssh.injectSocket(socket);
    });
  }

  /** The ARM side may change the authorized keys (e.g. a VM update) without a reboot. */
  setPublicKeys(keys: string[]): void {
    this.keys = parsePublicKeys(this.opts.vm, keys);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(new Error(`VM ${this.opts.vm}: SSH cannot listen on ${this.opts.ip}:${this.opts.port} (${err.code ?? err.message}); pick another sshPort or stop what holds it`));
      this.net.once('error', onError);
      this.net.listen(this.opts.port, this.opts.ip, () => {
        this.net.off('error', onError);
        resolve();
      });
    });
  }

  /** Ends every open connection abruptly (TCP reset, no SSH disconnect), like a network cut. */
  dropConnections(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.resetAndDestroy();
    return n;
  }

  /** Pids of exec'd commands still running (their process groups). */
  execPids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => !!p);
  }

  /**
   * Stops listening, ends connections and kills every exec'd command. Graceful (a shutdown): the
   * TCP connections close normally; otherwise (power loss) they are reset.
   */
  async close(graceful: boolean): Promise<void> {
    const closed = new Promise<void>((r) => this.net.close(() => r()));
    if (graceful) for (const s of this.sockets) s.destroySoon();
    else this.dropConnections();
    for (const child of this.children) killGroup(child.pid, 'SIGKILL');
    await closed;
  }

  private onClient(client: Connection): void {
    client.on('error', () => undefined); // a dropped peer is not our error
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        const env: Record<string, string> = {};
        session.on('env', (acceptEnv, _reject, info) => {
          env[info.key] = info.val;
          acceptEnv?.();
        });
        session.on('pty', (acceptPty) => acceptPty?.());
        session.on('shell', (_accept, reject) => reject?.());
        session.on('exec', (acceptExec, _reject, info) => this.exec(acceptExec(), info.command, env));
        session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), this.opts.sandbox, this.opts.home));
      });
    });
  }

  private authenticate(ctx: AuthContext): void {
    if (ctx.method !== 'publickey' || ctx.username !== this.opts.adminUser) return ctx.reject(['publickey']);
    const key = this.keys.find((k) => k.getPublicSSH().equals(ctx.key.data));
    if (!key) return ctx.reject(['publickey']);
    // Without a signature the client only asks whether the key would do; with one, verify it.
    if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
    ctx.accept();
  }

  private exec(stream: ServerChannel, command: string, clientEnv: Record<string, string>): void {
    const child = spawn('bash', ['-c', command], {
      cwd: this.opts.home,
      env: { ...clientEnv, ...this.opts.env },
      detached: true, // its own process group, killed whole at power-off
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    const open = (): boolean => stream.writable && !stream.destroyed;
    child.stdout?.on('data', (d: Buffer) => { if (open()) stream.write(d); });
    child.stderr?.on('data', (d: Buffer) => { if (open()) stream.stderr.write(d); });
    child.stdin?.on('error', () => undefined); // the command may exit before reading its input
    stream.on('data', (d: Buffer) => child.stdin?.write(d));
    stream.on('end', () => child.stdin?.end());
    stream.on('error', () => undefined);
    stream.on('signal', (info: { name: string }) => killGroup(child.pid, `SIG${info.name}` as NodeJS.Signals));
    child.on('error', (err) => {
      this.children.delete(child);
      if (open()) {
        stream.stderr.write(`bash: ${err.message}\n`);
        stream.exit(127);
        stream.end();
      }
    });
    child.on('close', (code, signal) => {
      this.children.delete(child);
      if (!open()) return;
      if (code !== null) stream.exit(code);
      else stream.exit(signal ?? 'KILL', false, '');
      stream.end();
    });
  }
}
