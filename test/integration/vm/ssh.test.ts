/**
 * The emulated VM as an SSH server: pinned host key, public-key auth, exec with exit codes and the
 * VM's environment, SFTP uploads and downloads, dropped connections, the stand-in tools.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, harness, listening, type Harness } from './helpers.js';

let h: Harness;
let ip: string;

beforeAll(async () => {
  h = await harness();
  ip = await h.powerOn('vm-a');
});
afterAll(async () => {
  await h.cleanup();
});

describe('SSH into an emulated VM', () => {
  it('accepts the pinned host key and refuses a wrong one', async () => {
    const vm = h.fleet.get('vm-a')!;
    expect(vm.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const ssh = await h.connect('vm-a');
    expect(ssh.isConnected()).toBe(true);
    await expect(h.connect('vm-a', 'SHA256:' + 'A'.repeat(43))).rejects.toThrow(/verification failed/);
  });

  it('refuses a key that was not given at power-on', async () => {
    const other = ssh2.utils.generateKeyPairSync('ed25519');
    const ssh = new NodeSSH();
    await expect(ssh.connect({ host: ip, port: h.sshPort, username: ADMIN, privateKey: other.private, readyTimeout: 5000 })).rejects.toThrow(
      /authentication methods failed/,
    );
    ssh.dispose();
  });

  it('runs commands with bash in the VM home and passes exit codes, stdout and stderr back', async () => {
    const ssh = await h.connect('vm-a');
    const vm = h.fleet.get('vm-a')!;
    const r = await ssh.execCommand('pwd; echo "$HOME"; echo oops >&2; exit 3');
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')).toEqual([vm.home, vm.home]);
    expect(r.stderr).toBe('oops');
    const killed = await ssh.execCommand('kill -TERM $$');
    expect(killed.code).toBeNull();
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

  it('uploads a directory and single files with SFTP, creating missing parents, and downloads files', async () => {
    const ssh = await h.connect('vm-a');
    const src = join(process.cwd(), 'examples/iot-platform/services/authentication');
    expect(await ssh.putDirectory(src, 'services/authentication')).toBe(true);
    const home = h.fleet.get('vm-a')!.home;
    expect(readFileSync(join(home, 'services/authentication/server.js'), 'utf8')).toBe(readFileSync(join(src, 'server.js'), 'utf8'));

    const local = mkdtempSync(join(h.rootDir, 'local-'));
    writeFileSync(join(local, 'run.sh'), '#!/bin/bash\necho ran\n');
    await ssh.putFile(join(local, 'run.sh'), 'deep/new/dir/run.sh', null, { mode: 0o755 });
    expect(statSync(join(home, 'deep/new/dir/run.sh')).mode & 0o777).toBe(0o755);
    expect((await ssh.execCommand('deep/new/dir/run.sh')).stdout).toBe('ran');

    await ssh.getFile(join(local, 'back.js'), 'services/authentication/server.js');
    expect(readFileSync(join(local, 'back.js'), 'utf8')).toBe(readFileSync(join(src, 'server.js'), 'utf8'));
    await expect(ssh.getFile(join(local, 'x'), 'does/not/exist')).rejects.toThrow('No such file');
  });

  it('refuses SFTP paths outside the sandbox', async () => {
    const ssh = await h.connect('vm-a');
    const local = mkdtempSync(join(h.rootDir, 'local-'));
    writeFileSync(join(local, 'f'), 'x');
    const outside = join(tmpdir(), `lcm-outside-${process.pid}`);
    await expect(ssh.putFile(join(local, 'f'), outside)).rejects.toThrow(/Permission denied/);
    expect(existsSync(outside)).toBe(false);
  });

  it('drops every connection mid-command on dropSshConnections', async () => {
    const ssh = await h.connect('vm-a');
    const pending = ssh.execCommand('echo started; sleep 5; echo finished');
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fleet.dropSshConnections('vm-a')).toBeGreaterThanOrEqual(1);
    const r = await pending;
    // node-ssh resolves (it does not reject): no exit code and no signal is how a drop shows.
    expect(r).toMatchObject({ code: null, signal: null, stdout: 'started' });
    expect(ssh.isConnected()).toBe(false);
    // The VM itself is still up: a new connection works.
    const again = await h.connect('vm-a');
    expect((await again.execCommand('echo back')).stdout).toBe('back');
  });
});

describe('stand-in tools', () => {
  it('has no docker until apt-get installs it, and then only the sandbox one', async () => {
    const ssh = await h.connect('vm-a');
    const vm = h.fleet.get('vm-a')!;
    const realDocker = ['/usr/bin/docker', '/usr/local/bin/docker'].filter((p) => existsSync(p)).map((p) => [p, statSync(p).mtimeMs, statSync(p).size]);

    expect((await ssh.execCommand('command -v docker')).code).not.toBe(0);
    expect((await ssh.execCommand('systemctl is-active docker')).stdout).toBe('inactive');
    expect((await ssh.execCommand('sudo -n apt-get update')).code).toBe(0);
    const install = await ssh.execCommand('sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io');
    expect(install.code).toBe(0);
    const where = await ssh.execCommand('command -v docker');
    expect(where.code).toBe(0);
    expect(where.stdout).toBe(join(vm.sandbox, 'bin', 'docker'));
    expect((await ssh.execCommand('sudo systemctl enable --now docker && systemctl is-active docker')).stdout).toBe('active');
    expect((await ssh.execCommand('docker info --format "{{.ServerVersion}}"')).code).toBe(0);
    // The machine's own Docker (if any) is untouched.
    for (const [p, mtime, size] of realDocker) {
      expect(statSync(p as string).mtimeMs).toBe(mtime);
      expect(statSync(p as string).size).toBe(size);
    }
    expect(h.fleet.counts('vm-a').install).toBe(1);
    // A second install only confirms, and is recorded as such.
    expect((await ssh.execCommand('sudo apt-get install -y docker.io')).stdout).toContain('already the newest version');
    expect(h.fleet.events('vm-a').filter((e) => e.kind === 'install').map((e) => e.detail)).toEqual([undefined, 'already installed']);
  });
});
