/** startLocalAzure: every emulator and a real VM in one call, and a stop that leaves no process, namespace, cgroup or port behind. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ComputeAdapter, createComputeClients } from '../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../functions/cloud/credentials.js';
import { DockerHost } from '../../functions/cloud/docker-host.js';
import { publicKeyOf } from '../../functions/cloud/secrets.js';
import { SshHost } from '../../functions/cloud/ssh.js';
import { LOCAL_ARM_TOKEN, startLocalAzure } from '../../local/azure/index.js';
import { runCgroups } from '../../local/azure/vm/cgroups.js';
import { RUN_ROOT, sweepStaleRuns } from '../../local/azure/vm/network.js';
import { alive, listening, localRoutes } from '../helpers/net.js';
import { hang } from '../helpers/hang-guard.js';

describe('local Azure', () => {
  it('starts every emulator, runs a VM with a container, and stops leaving no process, cgroup or port', async () => {
    const azure = await startLocalAzure({ stopGraceMs: 500 });
    const settings = azure.settings({ codeShare: 'code' });
    expect(settings.LCM_ARM_ENDPOINT).toBe(azure.arm.endpoint);
    expect(settings.VM_SSH_PRIVATE_KEY).toBe(azure.sshPrivateKey);

    const compute = new ComputeAdapter({
      clients: createComputeClients({ subscriptionId: '00000000-0000-0000-0000-000000000000', credential: staticTokenCredential(LOCAL_ARM_TOKEN), endpoint: azure.arm.endpoint, caCert: azure.caCert }),
      pollIntervalInMs: 20,
    });
    await compute.ensureResourceGroup({ resourceGroup: 'rg', location: 'westeurope' });
    const vm = await compute.ensureVm({
      resourceGroup: 'rg',
      location: 'westeurope',
      vm: { name: 'vm-a', size: 'Standard_B1s', adminUser: 'azureuser', image: { publisher: 'Canonical', offer: 'ubuntu', sku: '22_04-lts', version: 'latest' } },
      publicKey: publicKeyOf(azure.sshPrivateKey, 'VM_SSH_PRIVATE_KEY'),
    });
    const pins = new Map<string, string>();
    const ssh = new SshHost(
      // SSH from the VNet only (the VM's NSG), as the LCM reaches VMs.
      { vm: 'vm-a', host: vm.privateIp, port: Number(settings.LCM_SSH_PORT), username: 'azureuser', privateKey: azure.sshPrivateKey },
      { pins: { getHostKey: async (n) => pins.get(n), pinHostKey: async (n, f) => void pins.set(n, f) } },
    );
    const docker = new DockerHost(ssh);
    await docker.ensureDocker();
    await ssh.run('mkdir -p app && printf "FROM node:20-bookworm-slim\\nCMD [\\"node\\", \\"-e\\", \\"require(\'http\').createServer((q,s)=>s.end(\'ok\')).listen(+process.env.PORT, process.env.HOST)\\"]\\n" > app/Dockerfile');
    await ssh.run('sudo docker build -t app:1 app');
    await docker.ensureContainer({ name: 'app', image: 'app:1', port: 8080, env: {} });
    expect(await docker.waitHealthy({ address: vm.privateIp, port: 8080, path: '/', timeoutInMs: 1000 }, { startupTimeoutInMs: 10_000, intervalInMs: 100 })).toBe(true);
    ssh.dispose();

    const pids = await azure.fleet.pids('vm-a');
    const netns = azure.fleet.get('vm-a')!.netns;
    expect(pids.length).toBeGreaterThan(0);
    // The VM's dockerd put its container under a parent cgroup of this run, in every hierarchy.
    const run = azure.fleet.network.id;
    expect(runCgroups((r) => r === run).length).toBeGreaterThan(0);
    const endpoints = [azure.arm.endpoint, azure.cosmos.endpoint, azure.files.endpoint].map((e) => new URL(e));
    await azure.stop();

    for (const url of endpoints.filter((u) => u.hostname === '127.0.0.1')) expect(!await listening(url.hostname, Number(url.port)), url.href).toBe(true);
    expect(new URL(azure.files.endpoint).hostname).toBe(azure.hostAddress);
    // The VM's addresses are gone from this machine (probing them now would leave the machine).
    expect(localRoutes()).not.toContain(vm.publicIp.replace(/\.\d+$/, '.0/24'));
    expect(localRoutes()).not.toContain(vm.privateIp.replace(/\.\d+$/, '.0/24'));
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(netns);
    // Nor do its cgroups stay behind (a day of runs left tens of thousands of them).
    expect(runCgroups((r) => r === run)).toEqual([]);
  }, hang(120_000));

  it('a run killed before its stop leaves its folder behind only until the next run sweeps it', async () => {
    // A stack in a process of its own, killed as the OOM killer would kill it: no stop runs.
    const entry = new URL('../../local/azure/index.ts', import.meta.url).href;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', `const a = await (await import(${JSON.stringify(entry)})).startLocalAzure(); console.log('run ' + a.fleet.network.id); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /run ([0-9a-f]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the stack's process ended (${code}) before it started: ${out}`)));
    });
    const dir = readFileSync(`${RUN_ROOT}/${id}/dir`, 'utf8').trim();
    expect(dir).toMatch(/\/lcm-azure-[^/]+$/);
    expect(existsSync(`${dir}/vms`)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // What the next run does first (another test file's run may be the one that does it).
    await sweepStaleRuns();
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${RUN_ROOT}/${id}`)).toBe(false);
  }, hang(60_000));
});
