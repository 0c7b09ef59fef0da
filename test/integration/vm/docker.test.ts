/**
 * The Docker stand-in on emulated VMs, driven over SSH as the LCM drives it: build an uploaded
 * service, run it, reach it over HTTP on the VM's address, restart policies across crashes and
 * power cycles, and a fleet stop that leaves no process or port behind.
 */
import { join } from 'node:path';
import type { NodeSSH } from 'node-ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, harness, httpJson, listening, waitFor, type Harness } from './helpers.js';

const SERVICES = join(process.cwd(), 'examples/iot-platform/services');
let h: Harness;
const ips: Record<string, string> = {};

async function sh(ssh: NodeSSH, command: string): Promise<string> {
  const r = await ssh.execCommand(command);
  if (r.code !== 0) throw new Error(`${command} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** What an LCM would do to bring a service up on a fresh VM. */
async function deploy(vm: string, service: string, port: number, restart = 'unless-stopped'): Promise<NodeSSH> {
  const ssh = await h.connect(vm);
  await sh(ssh, 'command -v docker >/dev/null || sudo apt-get install -y docker.io');
  expect(await ssh.putDirectory(join(SERVICES, service), `services/${service}`)).toBe(true);
  await sh(ssh, `docker build -t ${service}:v1 services/${service}`);
  await sh(ssh, `docker run -d --name ${service} -p ${port}:${port} --restart ${restart} ${service}:v1`);
  return ssh;
}

const health = (vm: string, port: number) => `http://${ips[vm]}:${port}/health`;
const up = (vm: string, port: number) => waitFor(`${vm}:${port} healthy`, async () => {
  try {
    return (await httpJson(health(vm, port))) as { status: string; service: string };
  } catch {
    return undefined;
  }
});
const inspect = async (ssh: NodeSSH, fmt: string, name: string) => sh(ssh, `docker inspect -f '${fmt}' ${name}`);

beforeAll(async () => {
  h = await harness();
  ips['vm-core'] = await h.powerOn('vm-core');
  ips['vm-apps'] = await h.powerOn('vm-apps');
});
afterAll(async () => {
  await h?.cleanup();
});

describe('docker stand-in', () => {
  it('builds an uploaded service and serves it on the VM address over HTTP', async () => {
    const ssh = await deploy('vm-core', 'authentication', 8001);
    expect(await up('vm-core', 8001)).toEqual({ status: 'ok', service: 'authentication' });
    expect(await sh(ssh, `docker image inspect authentication:v1 --format '{{.Config.Cmd}}'`)).toBe('[node server.js]');
    expect(await sh(ssh, "docker ps --filter name=^authentication$ --format '{{.Names}} {{.State}} {{.Image}}'")).toBe('authentication running authentication:v1');
    expect(await inspect(ssh, '{{.State.Running}} {{.Config.Image}} {{.RestartCount}}', 'authentication')).toBe('true authentication:v1 0');
    expect(h.fleet.counts('vm-core', { by: 'cli' })).toMatchObject({ install: 1, build: 1, run: 1 });
  });

  it('answers like docker for missing images, name clashes, busy ports and bad builds', async () => {
    const ssh = await h.connect('vm-core');
    const missing = await ssh.execCommand('docker image inspect nope:v9');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: No such image: nope:v9');
    const clash = await ssh.execCommand('docker run -d --name authentication -p 8101:8001 authentication:v1');
    expect(clash.code).toBe(125);
    expect(clash.stderr).toContain('is already in use');
    const unknown = await ssh.execCommand('docker run -d --name x nope:v9');
    expect(unknown.code).toBe(125);
    const busy = await ssh.execCommand('docker run -d --name auth2 -p 8001:8001 authentication:v1');
    expect(busy.code).toBe(125);
    expect(busy.stderr).toContain('port is already allocated');
    await sh(ssh, 'docker rm -f auth2');
    await sh(ssh, 'mkdir -p broken && printf "FROM node:20-alpine\\nCOPY . .\\n" > broken/Dockerfile');
    const noCmd = await ssh.execCommand('docker build -t broken:v1 broken');
    expect(noCmd.code).not.toBe(0);
    expect(noCmd.stderr).toMatch(/no CMD or ENTRYPOINT/);
    expect((await ssh.execCommand('docker build -t none:v1 does-not-exist')).code).not.toBe(0);
    expect((await ssh.execCommand('docker image inspect broken:v1')).code).toBe(1);
  });

  it('runs services on the same port on two VMs', async () => {
    await deploy('vm-apps', 'authentication', 8001);
    await up('vm-apps', 8001);
    await up('vm-core', 8001);
    const core = await h.connect('vm-core');
    const apps = await h.connect('vm-apps');
    const [pidCore, pidApps] = [await inspect(core, '{{.State.Pid}}', 'authentication'), await inspect(apps, '{{.State.Pid}}', 'authentication')];
    expect(pidCore).not.toBe(pidApps);
  });

  it('proxies a host port that differs from the container port', async () => {
    const ssh = await deploy('vm-apps', 'dashboard', 8080);
    await up('vm-apps', 8080);
    await sh(ssh, 'docker run -d --name dash3 -p 9181:8082 dashboard:v1');
    expect(await waitFor('proxy', async () => {
      try {
        return (await httpJson(`http://${ips['vm-apps']}:9181/health`)) as object;
      } catch {
        return undefined;
      }
    })).toMatchObject({ status: 'ok' });
    await sh(ssh, 'docker rm -f dash3 dashboard');
    expect(await listening(ips['vm-apps'], 9181)).toBe(false);
  });

  it('brings a crashed service back through its restart policy, unless it stays down', async () => {
    const ssh = await h.connect('vm-core');
    const pid = Number(await inspect(ssh, '{{.State.Pid}}', 'authentication'));
    await h.fleet.crashContainer('vm-core', 'authentication');
    expect(alive(pid)).toBe(false);
    await waitFor('restart', async () => (await inspect(ssh, '{{.RestartCount}}', 'authentication')) === '1');
    expect(await up('vm-core', 8001)).toMatchObject({ status: 'ok' });
    expect(h.fleet.counts('vm-core', { by: 'policy' }).restart).toBe(1);

    await h.fleet.crashContainer('vm-core', 'authentication', { stayDown: true });
    await new Promise((r) => setTimeout(r, 300)); // several restart delays
    expect(await sh(ssh, "docker ps -a --filter name=^authentication$ --format '{{.Status}}'")).toMatch(/^Exited \(137\)/);
    expect(await inspect(ssh, '{{.State.Status}}', 'authentication')).toBe('exited');
    expect(await listening(ips['vm-core'], 8001)).toBe(false);
    await sh(ssh, 'docker start authentication');
    expect(await up('vm-core', 8001)).toMatchObject({ status: 'ok' });
  });

  it('after a power cycle brings back unless-stopped containers but not stopped ones', async () => {
    const ssh = await h.connect('vm-core');
    await deploy('vm-core', 'request-manager', 8002);
    await up('vm-core', 8002);
    await sh(ssh, 'docker stop request-manager');
    expect(await inspect(ssh, '{{.State.Running}}', 'request-manager')).toBe('false');

    await h.fleet.powerOff('vm-core', 'restart');
    expect(await listening(ips['vm-core'], 8001)).toBe(false);
    await h.powerOn('vm-core');
    expect(await up('vm-core', 8001)).toMatchObject({ service: 'authentication' });
    const again = await h.connect('vm-core');
    expect(await inspect(again, '{{.State.Running}}', 'authentication')).toBe('true');
    expect(await inspect(again, '{{.State.Running}}', 'request-manager')).toBe('false');
    expect(await listening(ips['vm-core'], 8002)).toBe(false);
    const boots = h.fleet.events('vm-core').filter((e) => e.by === 'boot').map((e) => e.container);
    expect(boots).toEqual(['authentication']);
  });

  it('killVm takes SSH and processes down; fleet.stop leaves no process or port behind', async () => {
    const apps = await h.connect('vm-apps');
    const appsPid = Number(await inspect(apps, '{{.State.Pid}}', 'authentication'));
    await sh(apps, 'setsid sleep 60 </dev/null >/dev/null 2>&1 &');
    const before = h.fleet.pids('vm-apps');
    expect(before).toContain(appsPid);
    expect(before.length).toBeGreaterThanOrEqual(2); // the service and the background sleep
    await h.fleet.killVm('vm-apps');
    expect(before.filter(alive)).toEqual([]);
    expect(await listening(ips['vm-apps'], h.sshPort)).toBe(false);
    expect(await listening(ips['vm-apps'], 8001)).toBe(false);

    const core = await h.connect('vm-core');
    const corePids = h.fleet.pids('vm-core');
    expect(corePids.length).toBeGreaterThan(0);
    expect(core.isConnected()).toBe(true);
    await h.fleet.stop();
    expect(corePids.filter(alive)).toEqual([]);
    for (const [vm, port] of [['vm-core', h.sshPort], ['vm-core', 8001], ['vm-apps', h.sshPort]] as const) {
      expect(await listening(ips[vm], port)).toBe(false);
    }
  });
});
