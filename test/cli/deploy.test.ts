/**
 * `bootstrap-cli deploy --local` as a user runs it: a real child process (bin/bootstrap-cli.js) on
 * the compact example topology (the full example is the main job's test), on a free port.
 */
import { alive, listening, localRoutes } from '../helpers/net.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { COMPACT_SERVICES, compactDocument, EXAMPLE_TOPOLOGY } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';
import { tempDir } from '../helpers/temp-dir.js';

const BIN = new URL('../../bin/bootstrap-cli.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Run {
  const env = { ...process.env };
  delete env.LCM_API_KEY;
  delete env.BOOTSTRAP_CLI_MAIN;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function until(what: string, check: () => boolean, run: Run, timeoutMs = hang(60_000)): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (run.child.exitCode !== null) throw new Error(`exited (${run.child.exitCode}) before ${what}:\n${run.stderr()}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`no ${what} after ${timeoutMs} ms:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every process below `pid` (children, grandchildren...). */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, parent] of rows) if (parent === p) (out.push(child), frontier.push(child));
  }
  return out;
}

/** The VM network a deploy process made: its run id (owner file) and namespaces. */
function vmNetworkOf(pid: number): { id: string; namespaces: string[] } {
  const id = readdirSync('/run/lcm-vms').find((d) => {
    try {
      return readFileSync(`/run/lcm-vms/${d}/owner`, 'utf8').trim() === String(pid);
    } catch {
      return false;
    }
  });
  if (!id) throw new Error(`no VM network owned by pid ${pid} under /run/lcm-vms`);
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`lcm${id}-`));
  return { id, namespaces };
}

/** The compact example as a topology file. */
function compactConfig(): string {
  const config = join(tempDir('lcm-compact-'), 'topology.yaml');
  writeFileSync(config, stringify(compactDocument()));
  return config;
}

interface Summary {
  instanceId: string;
  runtimeStatus: string;
  apiUrl: string;
  vms: Array<{ name: string; publicIp: string | null; powerState: string }>;
  services: Array<{ name: string; kind: string; vm: string; host: string | null; port: number | null; status: string; startedAt: string | null }>;
  failures: unknown[];
}

describe('bootstrap-cli deploy --local', () => {
  it('--once --json: stdout is exactly one JSON object describing a platform where everything runs; exit 0', async () => {
    // The compact example (three VMs, no Kafka); the main job's full example runs in test/e2e/main-job.test.ts.
    const run = start(['deploy', '--local', '--config', compactConfig(), '--code', join(dirname(EXAMPLE_TOPOLOGY), 'services'), '--once', '--json', '--port', '0']);
    const code = await run.exit;
    const stdout = run.stdout();
    let summary: Summary;
    try {
      summary = JSON.parse(stdout) as Summary; // throws on anything besides one JSON document
    } catch {
      throw new Error(`stdout is not one JSON object (exit ${code}):\n${stdout.slice(0, 2000)}\n--- stderr:\n${run.stderr().slice(-3000)}`);
    }
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(summary).toMatchObject({ instanceId: 'boot', runtimeStatus: 'Completed', failures: [] });
    expect(summary.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(summary.vms.map((v) => v.name)).toEqual(['vm-core', 'vm-apps', 'vm-ops']);
    for (const vm of summary.vms) expect(vm).toEqual({ name: vm.name, publicIp: expect.stringMatching(/^198\.(18|19)\./), powerState: 'running' });
    expect(summary.services.map((s) => s.name).sort()).toEqual(
      [...COMPACT_SERVICES].sort(),
    );
    for (const s of summary.services) {
      expect(Object.keys(s).sort()).toEqual(['host', 'kind', 'name', 'port', 'startedAt', 'status', 'vm']);
      expect(s.status, s.name).toBe('running');
    }
    expect(code).toBe(0);
    // Progress and the registry went to stderr; no secret but the API key is printed. The progress
    // is the boot's groups' put together by the API (monitoring as the root has it).
    expect(run.stderr()).toMatch(/service authentication \(vm-core\): running/);
    expect(run.stderr()).toMatch(/vm vm-apps: running/);
    expect(run.stderr()).toMatch(/service monitoring \(vm-ops\): running/);
    expect(run.stderr()).not.toMatch(/PRIVATE KEY/);
  }, hang(240_000));

  it('serves until SIGINT with every endpoint answering /health, then leaves no port and no process behind', async () => {
    // The compact example (three VMs, no Kafka): what is cleaned up does not depend on the services.
    const run = start(['deploy', '--local', '--config', compactConfig(), '--code', join(dirname(EXAMPLE_TOPOLOGY), 'services'), '--json', '--port', '0']);
    try {
      await until('registry and "serving the API"', () => /serving the API/.test(run.stderr()), run, 200_000);
      expect(run.stderr()).toMatch(/^SERVICE\s+KIND\s+VM\s+ENDPOINT\s+STATUS$/m);
      expect(run.stderr()).toMatch(/curl -s -H "x-functions-key: [^"]+" http:\/\/127\.0\.0\.1:\d+\/api\/registry/);
      const summary = JSON.parse(run.stdout()) as Summary;
      const api = new URL(summary.apiUrl);
      const health = await fetch(`${summary.apiUrl}/api/health`);
      expect(health.status).toBe(200);
      for (const s of summary.services.filter((x) => x.kind !== 'broker')) {
        const res = await fetch(`http://${s.host}:${s.port}/health`);
        expect(res.status, `${s.name} /health`).toBe(200);
      }
      const endpoints = [{ host: api.hostname, port: Number(api.port) }, ...summary.services.map((s) => ({ host: s.host!, port: s.port! }))];
      const processes = descendants(run.child.pid!);
      expect(processes.length).toBeGreaterThan(0); // the services' processes
      const net = vmNetworkOf(run.child.pid!);
      expect(net.namespaces.length).toBe(3);

      run.child.kill('SIGINT');
      expect(await run.exit).toBe(0);
      expect(run.stderr()).toMatch(/stopped: emulators, VMs, services and the API are down/);
      for (const e of endpoints.filter((x) => x.host === '127.0.0.1')) expect(await listening(e.host, e.port), `${e.host}:${e.port} still listening`).toBe(false);
      // The VMs' subnets are gone from this machine: nothing can listen there any more.
      for (const e of endpoints.filter((x) => x.host !== '127.0.0.1')) expect(localRoutes()).not.toContain(e.host.replace(/\.\d+$/, '.0/24'));
      // Give orphans no excuse: they had to be gone before the parent exited.
      expect(processes.filter(alive), 'processes left behind').toEqual([]);
      // No namespace, bridge or mount of its VM network stays.
      expect(existsSync(`/run/lcm-vms/${net.id}`)).toBe(false);
      const after = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const ns of net.namespaces) expect(after).not.toContain(ns);
      expect(execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })).not.toContain(`lcmbr${net.id}`);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`lcm${net.id}-`);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  }, hang(240_000));

  it('a busy API port is a clear error naming the port and --port; nothing starts', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const run = start(['deploy', '--local', '--once', '--port', String(port)]);
      expect(await run.exit).toBe(1);
      expect(run.stderr()).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(run.stderr()).toContain('--port N');
      expect(run.stdout()).not.toMatch(/starting the local Azure emulators/);
    } finally {
      server.close();
    }
  }, hang(30_000));

  it('without root the local VMs cannot run: it stops at once naming what is missing and how to get it', async () => {
    const child = spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'env', 'HOME=/tmp', process.execPath, BIN, 'deploy', '--local', '--once', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => (err += d));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
    expect(err).toContain('the local VMs cannot run on this machine: not running as root');
    expect(err).toMatch(/sudo npm start/);
    expect(err).not.toMatch(/starting the local Azure emulators/);
  }, hang(30_000));

  it('without --local it deploys to Azure: with no Azure sign-in here, exit 1 saying to run az login', async () => {
    const run = start(['deploy', '--dry-run']);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/az login/);
    // 3 s alone; a loaded machine (the suite's other files boot platforms meanwhile) took 31 s.
  }, hang(120_000));
});
