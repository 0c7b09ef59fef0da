/**
 * One local VM: a disk directory on the host (users, home, host key, Docker data root, logs) and,
 * while it runs, an init process in the VM's network namespace with its own mount and PID
 * namespaces (see vm-init.ts). The init is started under `setpriv --pdeathsig KILL` and
 * `unshare --kill-child`, so the VM dies with the process that started it, even on a crash.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOST_KEY_TYPES, sshHostKeyConfig, type HostKeyType, type SshHostKeyConfig } from './cloud-init.js';
import { aptGetScript, dockerdScript, initScript, sshdConfig, systemctlScript, type VmScriptOptions } from './vm-init.js';

const exec = promisify(execFile);

export const ADMIN_UID = 1000;
export const DOCKER_GID = 999;

export interface VmDiskOptions {
  name: string;
  disk: string;
  adminUser: string;
  registry: string;
  cgroupParent: string;
}

/**
 * Lays out the VM's disk. Host keys are set at the first boot only, as cloud-init does: those the
 * VM's customData gives (ssh_keys), else a generated Ed25519 key (the local image generates that
 * type only); later boots keep them (clients pin them).
 */
export async function prepareDisk(o: VmDiskOptions, publicKeys: string[], customData?: string): Promise<void> {
  const { disk, adminUser } = o;
  for (const d of ['etc', 'home', 'docker', 'etc-docker', 'sbin', 'log', 'ssh', 'state', 'tmp']) mkdirSync(join(disk, d), { recursive: true });
  chmodSync(join(disk, 'tmp'), 0o1777);
  const home = join(disk, 'home', adminUser);
  const sshDir = join(home, '.ssh');
  mkdirSync(sshDir, { recursive: true });
  writeFileSync(
    join(disk, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n${adminUser}:x:${ADMIN_UID}:${ADMIN_UID}:${adminUser}:/home/${adminUser}:/bin/bash\n`,
  );
  writeFileSync(
    join(disk, 'etc/group'),
    `root:x:0:\nsudo:x:27:${adminUser}\ndocker:x:${DOCKER_GID}:\nnogroup:x:65534:\n${adminUser}:x:${ADMIN_UID}:\n`,
  );
  writeFileSync(join(disk, 'etc/shadow'), `root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n${adminUser}:*:19000:0:99999:7:::\n`, { mode: 0o640 });
  // Azure's Linux agent gives the admin user passwordless sudo; the same line, for real sudo.
  writeFileSync(
    join(disk, 'etc/sudoers'),
    `Defaults env_reset\nDefaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot ALL=(ALL:ALL) ALL\n${adminUser} ALL=(ALL) NOPASSWD:ALL\n`,
    { mode: 0o440 },
  );
  chmodSync(join(disk, 'etc/sudoers'), 0o440);
  writeFileSync(join(sshDir, 'authorized_keys'), publicKeys.map((k) => k.trim()).join('\n') + '\n', { mode: 0o600 });
  for (const p of [home, sshDir, join(sshDir, 'authorized_keys')]) chownSync(p, ADMIN_UID, ADMIN_UID);
  chmodSync(home, 0o750);
  chmodSync(sshDir, 0o700);
  const firstBoot = join(disk, 'state/first-boot-done');
  if (!existsSync(firstBoot)) {
    await installHostKeys(o.name, join(disk, 'ssh'), sshHostKeyConfig(o.name, customData));
    writeFileSync(firstBoot, `${new Date().toISOString()}\n`);
  }
  const types = HOST_KEY_TYPES.filter((t) => existsSync(join(disk, `ssh/ssh_host_${t}_key`)));
  writeFileSync(join(disk, 'ssh/sshd_config'), sshdConfig(adminUser, types));
  const scripts: VmScriptOptions = { disk, registry: o.registry, cgroupParent: o.cgroupParent };
  const exe = (file: string, text: string) => writeFileSync(file, text, { mode: 0o755 });
  exe(join(disk, 'init.sh'), initScript(scripts));
  exe(join(disk, 'sbin/lcm-dockerd'), dockerdScript(scripts));
  exe(join(disk, 'sbin/apt-get'), aptGetScript(scripts));
  exe(join(disk, 'sbin/apt'), aptGetScript(scripts));
  exe(join(disk, 'sbin/systemctl'), systemctlScript());
  exe(join(disk, 'sbin/service'), systemctlScript());
}

/** cloud-init's cc_ssh on the VM's first boot: drop the image's keys, write the given ones, generate the rest. */
async function installHostKeys(name: string, dir: string, config: SshHostKeyConfig | undefined): Promise<void> {
  const file = (t: HostKeyType) => join(dir, `ssh_host_${t}_key`);
  if (!config) {
    if (!existsSync(file('ed25519'))) await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', file('ed25519')]);
    return;
  }
  if (config.deleteKeys) for (const t of HOST_KEY_TYPES) for (const f of [file(t), `${file(t)}.pub`]) rmSync(f, { force: true });
  for (const [t, key] of Object.entries(config.keys) as Array<[HostKeyType, { private: string; public?: string }]>) {
    writeFileSync(file(t), key.private, { mode: 0o600 });
    const pub = key.public ?? (await exec('ssh-keygen', ['-y', '-f', file(t)]).catch(() => ({ stdout: '' }))).stdout.trim();
    if (!pub) throw new Error(`VM ${name}: customData ssh_keys.${t}_private is not a key sshd can load`);
    writeFileSync(`${file(t)}.pub`, `${pub}\n`);
  }
  for (const t of config.genKeyTypes) {
    if (!existsSync(file(t))) await exec('ssh-keygen', ['-q', '-t', t, '-N', '', '-C', `root@${name}`, '-f', file(t)]);
  }
  if (!HOST_KEY_TYPES.some((t) => existsSync(file(t)))) throw new Error(`VM ${name}: customData leaves the VM without an SSH host key (no ssh_keys, ssh_genkeytypes empty)`);
}

/** 'SHA256:...' of the VM's host key, as `ssh-keygen -l` and node-ssh's hostVerifier see it. */
export function hostKeyFingerprint(disk: string): string {
  const pub = readFileSync(join(disk, 'ssh/ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/)[1]!;
  return fingerprintOfBlob(Buffer.from(pub, 'base64'));
}

import { createHash } from 'node:crypto';
export function fingerprintOfBlob(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export class RunningVm {
  private exited: Promise<void>;
  private log = '';
  constructor(readonly name: string, readonly disk: string, readonly netns: string, readonly proc: ChildProcess) {
    proc.stderr?.on('data', (d) => (this.log = (this.log + String(d)).slice(-4000)));
    proc.stdout?.on('data', (d) => (this.log = (this.log + String(d)).slice(-4000)));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The unshare process: /proc/PID/root is the VM's file system view (its private /run). */
  get pid(): number {
    return this.proc.pid!;
  }

  /** Host pid of the VM's PID 1 (the init the unshare process forked): nsenter -t it to act inside the VM. */
  get initPid(): number | undefined {
    try {
      const first = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8').trim().split(/\s+/)[0];
      return first ? Number(first) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Runs a command inside the VM (its mount and PID namespaces: pids are the VM's own). */
  async inVm(script: string): Promise<string> {
    const init = this.initPid;
    if (!init) throw new Error(`VM ${this.name} has no init process`);
    return (await exec('nsenter', ['-t', String(init), '-m', '-p', '--', '/bin/bash', '-c', script])).stdout;
  }

  get dockerSocket(): string {
    return `/proc/${this.pid}/root/run/docker.sock`;
  }

  output(): string {
    return this.log;
  }

  /** Power loss: PID 1 gets SIGKILL (unshare --kill-child), the kernel kills the rest. */
  async kill(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
    // The kernel tears the PID namespace down after PID 1 is gone: wait until nothing of the VM runs.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pids = (await exec('ip', ['netns', 'pids', this.netns]).then((r) => r.stdout).catch(() => '')).trim();
      if (!pids) return;
      if (Date.now() > deadline) {
        for (const pid of pids.split(/\s+/)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Graceful shutdown: the engine stops its containers (Docker's own stop), then the VM halts. */
  async shutdown(graceMs: number): Promise<void> {
    if (!this.alive) return;
    if (graceMs > 0 && existsSync(this.dockerSocket)) {
      const pidText = (() => {
        try {
          return readFileSync(`/proc/${this.pid}/root/run/docker.pid`, 'utf8').trim();
        } catch {
          return '';
        }
      })();
      // The pid file holds the pid in the VM's own PID namespace: signal it from inside.
      if (/^\d+$/.test(pidText)) await this.inVm(`kill -TERM ${pidText}`).catch(() => undefined);
      const deadline = Date.now() + graceMs + 2_000;
      while (Date.now() < deadline && existsSync(this.dockerSocket)) await new Promise((r) => setTimeout(r, 100));
    }
    await this.kill();
  }

  wait(): Promise<void> {
    return this.exited;
  }
}

/** Starts the VM's init in its namespace and waits for sshd to accept connections. */
export async function bootVm(o: { name: string; disk: string; netns: string; publicIp: string; timeoutMs?: number }): Promise<RunningVm> {
  mkdirSync('/var/lib/docker', { recursive: true }); // the mount point the VM's data root is bound on
  mkdirSync('/etc/docker', { recursive: true });
  rmSync(join(o.disk, 'tmp'), { recursive: true, force: true });
  mkdirSync(join(o.disk, 'tmp'), { recursive: true, mode: 0o1777 });
  chmodSync(join(o.disk, 'tmp'), 0o1777);
  const proc = spawn(
    'setpriv',
    [
      '--pdeathsig', 'KILL', '--',
      'nsenter', `--net=/run/netns/${o.netns}`, '--',
      'unshare', '--mount', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc', '--propagation', 'private', '--',
      '/usr/bin/docker-init', '-s', '--', '/bin/bash', join(o.disk, 'init.sh'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root' } },
  );
  const vm = new RunningVm(o.name, o.disk, o.netns, proc);
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (!(await sshAnswers(o.publicIp))) {
    if (!vm.alive) throw new Error(`VM ${o.name} failed to boot: ${vm.output().trim().split('\n').slice(-5).join(' | ') || 'init exited'}`);
    if (Date.now() > deadline) {
      await vm.kill();
      throw new Error(`VM ${o.name}: sshd did not answer on ${o.publicIp}:22 within ${o.timeoutMs ?? 30_000} ms: ${vm.output().trim()}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return vm;
}

function sshAnswers(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port: 22 });
    s.setTimeout(500);
    s.once('data', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
