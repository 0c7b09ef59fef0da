/**
 * A fresh VM that ARM already reports running: sshd not answering yet (handshake timeout, retried),
 * cloud-init and unattended-upgrades holding apt (waited for), and SSH steps bounded below the
 * function timeout.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { installDockerScript, STEP_TIMEOUTS } from '../../functions/cloud/docker-host.js';
import { SshConnectionError, SshHost } from '../../functions/cloud/ssh.js';
import { generateSshKeyPair } from '../../functions/cloud/secrets.js';
import { hang } from '../helpers/hang-guard.js';

describe('installing Docker on a fresh VM', () => {
  const bin = mkdtempSync(join(tmpdir(), 'lcm-fresh-vm-'));
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it('waits for cloud-init, then lets apt wait for the dpkg lock', () => {
    const log = join(bin, 'calls.log');
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    // Stand-ins of the VM's commands: each records how it was called.
    stub('sudo', '[ "$1" = -n ] && shift; exec "$@"');
    stub('cloud-init', `echo "cloud-init $*" >> ${log}; exit 2`); // ended "with errors": still install
    stub('apt-get', `echo "apt-get $*" >> ${log}`);
    stub('systemctl', `echo "systemctl $*" >> ${log}`);
    stub('docker', 'exit 0');
    const r = spawnSync('bash', ['-c', installDockerScript()], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls).toEqual([
      'cloud-init status --wait',
      `apt-get -o DPkg::Lock::Timeout=${STEP_TIMEOUTS.dpkgLockSeconds} update -y`,
      `apt-get -o DPkg::Lock::Timeout=${STEP_TIMEOUTS.dpkgLockSeconds} install -y docker.io curl`,
      'systemctl enable --now docker',
    ]);
  });

  it('each activity\'s SSH steps together stay below the function timeout of host.json', () => {
    const hostJson = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as { functionTimeout: string };
    const [h, m, s] = hostJson.functionTimeout.split(':').map(Number) as [number, number, number];
    const functionTimeoutMs = ((h * 60 + m) * 60 + s) * 1000;
    expect(STEP_TIMEOUTS.fetchCode + STEP_TIMEOUTS.build).toBeLessThan(functionTimeoutMs);
    expect(STEP_TIMEOUTS.installDocker).toBeLessThan(functionTimeoutMs);
    expect(STEP_TIMEOUTS.installDocker).toBeGreaterThan((STEP_TIMEOUTS.cloudInitWaitSeconds + STEP_TIMEOUTS.dpkgLockSeconds) * 1000);
  });
});

describe('SSH to a VM whose sshd does not answer yet', () => {
  it('"Timed out while waiting for handshake" is transient: retried, then a connection error naming the VM', { timeout: hang(20_000) }, async () => {
    // A TCP listener that accepts and says nothing, like a booting VM's sshd.
    let connections = 0;
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => {
      connections++;
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const ssh = new SshHost(
        { vm: 'vm-fresh', host: '127.0.0.1', port: (silent.address() as AddressInfo).port, username: 'azureuser', privateKey: generateSshKeyPair().private },
        { pins: { getHostKey: async () => undefined, pinHostKey: async () => undefined }, connectTimeoutInMs: 300, maxAttempts: 3, retryDelayInMs: 10 },
      );
      const error = await ssh.run('true').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SshConnectionError);
      expect((error as Error).message).toMatch(/vm-fresh.*Timed out while waiting for handshake/);
      expect(connections).toBe(3);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
