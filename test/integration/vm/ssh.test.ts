/**
 * A local VM as an SSH host: real OpenSSH with the VM's own pinned host key, public-key auth of the
 * admin user from the VM spec, exec with exit codes in the user's home, SFTP, dropped
 * connections, real sudo, and the package-manager stand-in that installs the VM's Docker engine.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, harness, listening, type Harness } from './helpers.js';
import { hang } from '../../helpers/hang-guard.js';

let h: Harness;
let ip: string;

beforeAll(async () => {
  h = await harness();
  ip = await h.powerOn('vm-a');
}, hang(120_000));
afterAll(async () => {
  await h?.cleanup();
});

describe('SSH into a local VM', () => {
  it('accepts the pinned host key and refuses a wrong one', async () => {
    const vm = h.fleet.get('vm-a')!;
    expect(vm.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const ssh = await h.connect('vm-a');
    expect(ssh.isConnected()).toBe(true);
    await expect(h.connect('vm-a', 'SHA256:' + 'A'.repeat(43))).rejects.toThrow(/verification failed/);
  });

  it('refuses a key that was not given at power-on, and a user that is not the admin', async () => {
    const other = ssh2.utils.generateKeyPairSync('ed25519');
    const ssh = new NodeSSH();
    await expect(ssh.connect({ host: ip, port: h.sshPort, username: ADMIN, privateKey: other.private, readyTimeout: 5000 })).rejects.toThrow(/authentication methods failed/);
    await expect(ssh.connect({ host: ip, port: h.sshPort, username: 'root', privateKey: h.privateKey, readyTimeout: 5000 })).rejects.toThrow(/authentication methods failed/);
    ssh.dispose();
  });

  it('is a Linux host of its own: the admin user in its home, its two addresses, its own processes', async () => {
    const ssh = await h.connect('vm-a');
    const vm = h.fleet.get('vm-a')!;
    const r = await ssh.execCommand('pwd; id -un; echo oops >&2; exit 3');
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')).toEqual([`/home/${ADMIN}`, ADMIN]);
    expect(r.stderr).toBe('oops');
    const addrs = (await ssh.execCommand('ip -4 -o addr show dev eth0')).stdout;
    expect(addrs).toContain(`inet ${vm.ip}/24`);
    expect(addrs).toContain(`inet ${vm.privateIp}/24`);
    // No route off the machine: only the VM network's own subnets.
    expect((await ssh.execCommand('ip route | grep -c default || true')).stdout.trim()).toBe('0');
    // Its own PID namespace: the machine's processes are not visible.
    expect(Number((await ssh.execCommand('ls -d /proc/[0-9]* | wc -l')).stdout.trim())).toBeLessThan(30);
    expect((await ssh.execCommand('sudo -n id -u')).stdout).toBe('0');
    const killed = await ssh.execCommand('kill -TERM $$');
    expect(killed.signal).toBe('SIGTERM');
    expect((await ssh.execCommand('cat', { stdin: 'from stdin' })).stdout).toBe('from stdin');
  });

  it('keeps its host key across a power cycle', async () => {
    const before = h.fleet.get('vm-a')!.hostKeyFingerprint;
    await h.fleet.powerOff('vm-a', 'deallocate');
    expect(h.fleet.get('vm-a')!.running).toBe(false);
    expect(await listening(ip, h.sshPort)).toBe(false);
    await h.powerOn('vm-a');
    expect(h.fleet.get('vm-a')!.hostKeyFingerprint).toBe(before);
    const ssh = await h.connect('vm-a', before);
    expect((await ssh.execCommand('true')).code).toBe(0);
  });

  it('uploads and downloads with SFTP; putDirectory loses execute bits, as node-ssh does against OpenSSH', async () => {
    const ssh = await h.connect('vm-a');
    const src = join(process.cwd(), 'examples/iot-platform/services/authentication');
    expect(await ssh.putDirectory(src, 'services/authentication')).toBe(true);
    const home = h.fleet.get('vm-a')!.home;
    expect(readFileSync(join(home, 'services/authentication/server.js'), 'utf8')).toBe(readFileSync(join(src, 'server.js'), 'utf8'));

    const local = mkdtempSync(join(h.rootDir, 'local-'));
    writeFileSync(join(local, 'run.sh'), '#!/bin/bash\necho ran\n', { mode: 0o755 });
    await ssh.putFile(join(local, 'run.sh'), 'bin-dir/run.sh', null, { mode: 0o755 });
    expect(statSync(join(home, 'bin-dir/run.sh')).mode & 0o777).toBe(0o755);
    expect((await ssh.execCommand('bin-dir/run.sh')).stdout).toBe('ran');

    await ssh.getFile(join(local, 'back.js'), 'services/authentication/server.js');
    expect(readFileSync(join(local, 'back.js'), 'utf8')).toBe(readFileSync(join(src, 'server.js'), 'utf8'));
    await expect(ssh.getFile(join(local, 'x'), 'does/not/exist')).rejects.toThrow('No such file');
    // The admin user cannot write where Unix permissions forbid it.
    await expect(ssh.putFile(join(local, 'run.sh'), '/root/run.sh')).rejects.toThrow(/Permission denied/);
  });

  it('drops every connection mid-command on dropSshConnections', async () => {
    const ssh = await h.connect('vm-a');
    const pending = ssh.execCommand('echo started; sleep 5; echo finished');
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.fleet.dropSshConnections('vm-a')).toBeGreaterThanOrEqual(1);
    const r = await pending;
    expect(r.stdout).toBe('started');
    expect(r.code).toBeNull();
    const again = await h.connect('vm-a');
    expect((await again.execCommand('echo back')).stdout).toBe('back');
  });
});

describe('installing Docker (the package-manager stand-in) starts the VM\'s own real engine', () => {
  it('has no working docker until apt-get installs it; apt-get needs root', async () => {
    const ssh = await h.connect('vm-a');
    expect((await ssh.execCommand('docker info')).code).not.toBe(0);
    expect((await ssh.execCommand('systemctl is-active docker')).code).not.toBe(0);
    const notRoot = await ssh.execCommand('apt-get install -y docker.io');
    expect(notRoot.code).toBe(100);
    expect(notRoot.stderr).toMatch(/are you root/);
    expect((await ssh.execCommand('sudo -n apt-get update')).code).toBe(0);
    const install = await ssh.execCommand('sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io');
    expect(install.code, install.stderr).toBe(0);
    expect((await ssh.execCommand('sudo -n systemctl enable --now docker && sudo -n systemctl is-active docker')).stdout).toBe('active');
    const info = await ssh.execCommand('sudo -n docker info --format "{{.ServerVersion}} {{.DockerRootDir}} {{.Driver}}"');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^20\.10\.\S+ \/var\/lib\/docker overlay2$/);
    // The engine's data root is the VM's disk, not the machine's.
    expect(existsSync(join(h.fleet.get('vm-a')!.disk, 'docker', 'overlay2'))).toBe(true);
    expect(h.fleet.counts('vm-a').install).toBe(1);
    expect((await ssh.execCommand('sudo apt-get install -y docker.io')).stdout).toContain('already the newest version');
    expect(h.fleet.events('vm-a').filter((e) => e.kind === 'install').map((e) => e.detail)).toEqual([undefined, 'already installed']);
    expect((await ssh.execCommand('sudo apt-get install -y no-such-package')).code).toBe(100);
  });
});
