/**
 * What a real local VM costs on this machine: time from power-on to sshd answering, to a running
 * Docker engine (`apt-get install docker.io`), to a first image built on the node base (a real
 * pull from the machine's registry), and its memory (RSS of every process in its namespace).
 * LCM_BENCH_REAL_VMS VMs (default 3) are started together, as a boot does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NodeSSH } from 'node-ssh';
import { generateSshKeyPair } from '../functions/cloud/secrets.js';
import { createVmFleet } from '../local/azure/vm/index.js';
import type { Report } from './run.js';

function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

export default async function realVmBench(report: Report): Promise<void> {
  const n = Number(process.env.LCM_BENCH_REAL_VMS || 3);
  const root = mkdtempSync(path.join(tmpdir(), 'lcm-bench-vm-'));
  const keys = generateSshKeyPair();
  const fleet = createVmFleet({ rootDir: root, stopGraceMs: 1000 });
  const t0 = performance.now();
  await fleet.start();
  report('fleet start (bridge, registry, base images cached)', performance.now() - t0, 'ms');
  try {
    const names = Array.from({ length: n }, (_, i) => `vm-${i}`);
    const timings = await Promise.all(
      names.map(async (name) => {
        const ip = fleet.allocatePublic(name);
        const t = performance.now();
        await fleet.powerOn({ name, ip, privateIp: fleet.allocatePrivate(name), adminUser: 'azureuser', publicKeys: [keys.public] });
        const sshd = performance.now() - t;
        const ssh = new NodeSSH();
        await ssh.connect({ host: ip, username: 'azureuser', privateKey: keys.private });
        const t1 = performance.now();
        await ssh.execCommand('sudo -n apt-get install -y docker.io');
        const engine = performance.now() - t1;
        const sshOnly = rssMb(await fleet.pids(name));
        const t2 = performance.now();
        const build = await ssh.execCommand(
          `mkdir -p app && printf 'FROM node:20-bookworm-slim\\nRUN echo hi > /hi\\nCMD ["node","-e","setInterval(()=>{},1e9)"]\\n' > app/Dockerfile && sudo -n docker build -q -t app app && sudo -n docker run -d --name app app`,
        );
        if (build.code !== 0) throw new Error(`${name}: build failed: ${build.stderr}`);
        const image = performance.now() - t2;
        ssh.dispose();
        return { sshd, engine, image, sshOnly, withEngine: rssMb(await fleet.pids(name)) };
      }),
    );
    const avg = (k: keyof (typeof timings)[number]) => timings.reduce((s, x) => s + x[k], 0) / timings.length;
    report(`${n} VMs at once: power-on to sshd, per VM (avg)`, avg('sshd'), 'ms');
    report(`${n} VMs at once: apt-get install docker.io to a running engine (avg)`, avg('engine'), 'ms');
    report(`${n} VMs at once: first build on node:20 (pull ~210 MB) + run (avg)`, avg('image'), 'ms');
    report('memory per VM: init + sshd (RSS, before Docker)', avg('sshOnly'), 'MB');
    report('memory per VM: with dockerd, containerd and one node container (RSS)', avg('withEngine'), 'MB');
    report('disk per VM after one pull and build', Number(execFileSync('du', ['-sm', path.join(root, 'vm-0', 'docker')], { encoding: 'utf8' }).split('\t')[0]), 'MB');
  } finally {
    await fleet.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
