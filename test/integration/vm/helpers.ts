/** Shared setup for the VM fleet tests: a fleet of real VMs in a temp dir, node-ssh clients pinned to host keys. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import ssh2 from 'ssh2';
import { fingerprintOf } from '../../../functions/cloud/ssh.js';
import { createVmFleet, type VmFleet, type VmFleetOptions } from '../../../local/azure/vm/index.js';

export const ADMIN = 'azureuser';

export interface Harness {
  fleet: VmFleet;
  rootDir: string;
  privateKey: string;
  publicKey: string;
  sshPort: number;
  powerOn(name: string): Promise<string>;
  connect(name: string, fingerprint?: string): Promise<NodeSSH>;
  cleanup(): Promise<void>;
}

export async function harness(opts: Partial<VmFleetOptions> = {}): Promise<Harness> {
  const rootDir = mkdtempSync(join(tmpdir(), 'lcm-vm-test-'));
  const keys = ssh2.utils.generateKeyPairSync('ed25519');
  const fleet = createVmFleet({ rootDir, stopGraceMs: 2000, ...opts });
  await fleet.start();
  const sshPort = fleet.sshPort;
  const clients: NodeSSH[] = [];
  return {
    fleet,
    rootDir,
    privateKey: keys.private,
    publicKey: keys.public,
    sshPort,
    async powerOn(name) {
      const ip = fleet.allocatePublic(name);
      await fleet.powerOn({ name, ip, privateIp: fleet.allocatePrivate(name), adminUser: ADMIN, publicKeys: [keys.public] });
      return ip;
    },
    async connect(name, fingerprint) {
      const vm = fleet.get(name)!;
      const pinned = fingerprint ?? vm.hostKeyFingerprint;
      const ssh = new NodeSSH();
      clients.push(ssh);
      await ssh.connect({
        host: vm.ip,
        port: vm.sshPort,
        username: ADMIN,
        privateKey: keys.private,
        readyTimeout: 5000,
        hostVerifier: (key: Buffer) => fingerprintOf(key) === pinned,
      } as Parameters<NodeSSH['connect']>[0]);
      // node-ssh listens for connection errors only while connecting: a VM that powers off or
      // drops connections would otherwise crash the test process with ECONNRESET.
      ssh.connection?.on('error', () => undefined);
      return ssh;
    },
    async cleanup() {
      for (const c of clients) c.dispose();
      await fleet.stop();
      rmSync(rootDir, { recursive: true, force: true });
    },
  };
}

export { alive, listening } from '../../helpers/net.js';

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function httpJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}
