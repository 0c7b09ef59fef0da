/**
 * The main job itself: `bootstrap-cli deploy --local` as a child process, as `npm start` runs it,
 * on real VMs. Boot, the registry answering from every VM's address, a RUN step's file served, the
 * readings through Kafka, monitoring and its watchdog started, and Ctrl-C leaving no process,
 * namespace, mount or port behind. (Self-healing and the CLI's restart are tested on smaller
 * platforms: test/e2e/self-healing.test.ts, test/cli/operator.test.ts.)
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSshKeyPair } from '../../functions/cloud/secrets.js';
import { alive, listening, localRoutes } from '../helpers/net.js';
import { freePort } from '../helpers/platform.js';
import { hang } from '../helpers/hang-guard.js';

const BIN = new URL('../../bin/bootstrap-cli.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

const key = 'main-job-test-key-0123456789';
const ssh = generateSshKeyPair();
let child: ChildProcess;
let stderr = '';
let api: string;
let port: number;

async function get(path: string): Promise<any> {
  // An idle keep-alive connection may have been closed by the server meanwhile: try once more.
  const res = await fetch(`${api}/api/${path}`, { headers: { 'x-functions-key': key } }).catch(() =>
    new Promise((r) => setTimeout(r, 500)).then(() => fetch(`${api}/api/${path}`, { headers: { 'x-functions-key': key } })),
  );
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`deploy exited (${child.exitCode}) before ${what}:\n${stderr.slice(-3000)}`);
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`no ${what} after ${timeoutMs} ms:\n${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function healthy(host: string, p: number): Promise<boolean> {
  try {
    return (await fetch(`http://${host}:${p}/health`, { signal: AbortSignal.timeout(1500) })).ok;
  } catch {
    return false;
  }
}


beforeAll(async () => {
  port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, LCM_API_KEY: key, VM_SSH_PRIVATE_KEY: ssh.private };
  delete env.BOOTSTRAP_CLI_MAIN;
  child = spawn(process.execPath, [BIN, 'deploy', '--local', '--config', 'examples/iot-platform/topology.yaml', '--port', String(port)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (stderr += d));
  child.stderr!.on('data', (d) => (stderr += d));
  api = `http://127.0.0.1:${port}`;
  await until('"serving the API"', async () => /serving the API/.test(stderr), hang(240_000));
}, hang(260_000));

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

describe('bootstrap-cli deploy --local (the main job) on real VMs', () => {
  it('boots: every registry endpoint answers from its VM\'s private address; the RUN step\'s file is served', async () => {
    expect(stderr).toMatch(/boot succeeded/);
    // After the registry, the line that proves readings went through Kafka (read from the dashboard).
    expect(stderr).toMatch(/^data flow: [1-9]\d* sensor readings went through Kafka in the last 10 s \(3 sensors, \d+ anomalies found\); live at http:\/\/10\.[\d.]+:8080\/$/m);
    const vms = new Map(((await get('vms')) as any[]).map((v) => [v.name, v]));
    const registry = (await get('registry')) as any[];
    expect(registry).toHaveLength(10);
    for (const e of registry) {
      expect(e.host, e.service).toBe(vms.get(e.vm).privateIp);
      expect(e.host).not.toBe(vms.get(e.vm).publicIp);
      if (e.service !== 'kafka') expect(await healthy(e.host, e.port), `${e.service} /health`).toBe(true);
    }
    const dashboard = registry.find((e) => e.service === 'dashboard');
    const info = await (await fetch(`http://${dashboard.host}:${dashboard.port}/build-info`)).text();
    expect(info).toMatch(/^dashboard image built on Debian 12\.\d+ with Node v20\./);
  });

  // Self-healing (a hung or stopped service, the watchdog) and the CLI's restart have their own
  // tests on smaller platforms (test/e2e/self-healing.test.ts, test/cli/operator.test.ts): this
  // file proves the README's command itself.
  it('monitoring runs and the watchdog watches it, started by the boot', async () => {
    const watchdog = await get('operations/watchdog');
    expect(watchdog.runtimeStatus).toBe('Running');
    const monitoring = await get('services/monitoring');
    expect(monitoring.state).toBe('running');
    expect(await healthy(monitoring.endpoint.host, monitoring.endpoint.port)).toBe(true);
  });

  it('Ctrl-C stops everything: no process, namespace, bridge, mount or port is left', async () => {
    const id = readdirSync('/run/lcm-vms').find((d) => existsSync(`/run/lcm-vms/${d}/owner`) && readFileSync(`/run/lcm-vms/${d}/owner`, 'utf8').trim() === String(child.pid));
    expect(id).toBeDefined();
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`lcm${id}-`));
    expect(namespaces).toHaveLength(4);
    const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    const below: number[] = [];
    for (const frontier = [child.pid!]; frontier.length; ) {
      const p = frontier.pop()!;
      for (const [c, parent] of rows) if (parent === p) (below.push(c!), frontier.push(c!));
    }
    const vmProcesses = (await Promise.all(namespaces.map((ns) => run('ip', ['netns', 'pids', ns]).then((r) => r.stdout)))).join(' ').split(/\s+/).filter(Boolean).map(Number);
    expect(vmProcesses.length).toBeGreaterThan(10);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/stopped: emulators, VMs, services and the API are down/);
    expect([...below, ...vmProcesses].filter(alive), 'processes left behind').toEqual([]);
    const netnsAfter = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const ns of namespaces) expect(netnsAfter).not.toContain(ns);
    expect(existsSync(`/run/lcm-vms/${id}`)).toBe(false);
    expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).not.toContain(`lcmbr${id}`);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(new RegExp(`lcm${id}-|/run/netns/lcm${id}`));
    expect(await listening('127.0.0.1', port)).toBe(false);
    expect(localRoutes()).not.toMatch(/lcmbr/.test(id!) ? /$^/ : new RegExp(`lcmbr${id}`));
  }, hang(60_000));
});
