/**
 * The operator commands (status, registry, restart, provision-vm, history) run in-process through
 * runCli against one real local deployment (emulators + local host + the booted example platform).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDeployment, type LocalDeployment } from '../../bootstrap-cli/local-deployment.js';
import { runCli } from '../../bootstrap-cli/main.js';
import type { CliIo } from '../../bootstrap-cli/io.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { compactDocument, EXAMPLE_TOPOLOGY } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

let d: LocalDeployment;
let dir: string;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), isTty: false };
  return { io, out: () => out.join('\n'), err: () => err.join('\n') };
}

async function cli(...args: string[]) {
  const c = capture();
  const code = await runCli([...args, '--url', d.apiUrl, '--key', d.apiKey], c.io);
  return { code, out: c.out(), err: c.err() };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** The compact example (no Kafka), with request-manager as a model so the model route has a target. */
function compactTopology() {
  const doc = compactDocument();
  doc.services.find((s: any) => s.name === 'request-manager').kind = 'model';
  return assertTopology(doc);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lcm-cli-op-'));
  d = await startLocalDeployment({
    topology: compactTopology(),
    codeRoot: join(dirname(EXAMPLE_TOPOLOGY), 'services'),
    port: 0,
    apiKey: randomBytes(12).toString('hex'),
    env: {},
    // A VM restart that takes a while, so a second request meets the running one (409).
    azure: { stopGraceMs: 1_000, armLatency: { 'vm.restart': 3_000 } },
  });
  const res = await fetch(`${d.apiUrl}/api/boot`, { method: 'POST', headers: { 'x-functions-key': d.apiKey } });
  expect(res.status).toBe(202);
  const boot = await d.host.waitForInstance('boot', { timeoutInMs: hang(90_000) });
  expect((boot.output as { status: string }).status).toBe('succeeded');
}, hang(120_000));

afterAll(async () => {
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('status and registry', () => {
  it('status lists every VM, every service with its endpoint, and the running watchdog', async () => {
    const r = await cli('status');
    expect(r.code).toBe(0);
    // Power state and IP are not asserted: boot-vm does not record VMs yet (see the report).
    for (const vm of ['vm-core', 'vm-apps', 'vm-ops']) expect(r.out).toMatch(new RegExp(`^${vm}\\s+\\w+\\s`, 'm'));
    expect(r.out).toMatch(/^authentication\s+microservice\s+vm-core\s+http:\/\/10\.[\d.]+:8001\s+running/m);
    expect(r.out).toMatch(/Running operations\n[\s\S]*watchdog/);
    const json = await cli('status', '--json');
    expect(JSON.parse(json.out).services).toHaveLength(4);
  });

  it('registry prints one row per running service; --json is the API body', async () => {
    const r = await cli('registry');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => /\srunning$/.test(l))).toHaveLength(4);
    const entries = JSON.parse((await cli('registry', '--json')).out) as Array<{ service: string; host: string; port: number }>;
    expect(entries.map((e) => e.service)).toContain('monitoring');
  });
});

describe('restart', () => {
  it('restarts a service and, with --wait, follows it to success (exit 0)', async () => {
    const r = await cli('restart', 'service', 'authentication', '--wait', '--reason', 'cli test');
    expect(r.err).toContain('operation restart-svc-authentication');
    expect(r.out).toMatch(/^✔ operation restart-svc-authentication Completed: (restarted|recreated)/);
    expect(r.code).toBe(0);
  });

  it('without --wait prints the operation id; --json gives it as an object', async () => {
    const r = await cli('restart', 'model', 'request-manager', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).id).toBe('restart-svc-request-manager');
    await d.host.waitForInstance('restart-svc-request-manager', { timeoutInMs: hang(90_000) });
  }, hang(120_000));

  it('409: a second restart of a VM names the running operation and exits 1', async () => {
    const first = await cli('restart', 'vm', 'vm-ops');
    expect(first.code).toBe(0);
    expect(first.out).toContain('operation restart-vm-vm-ops');
    const second = await cli('restart', 'vm', 'vm-ops');
    expect(second.code).toBe(1);
    expect(second.err).toMatch(/already running/);
    expect(second.err).toContain('running operation: restart-vm-vm-ops');
    await d.host.waitForInstance('restart-vm-vm-ops', { timeoutInMs: hang(150_000) });
  }, hang(180_000));

  it('404 and 400 give the API reason and exit 1; an unknown kind is a usage error (2)', async () => {
    const missing = await cli('restart', 'service', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/\(404\): no microservice named "nope"/);
    const wrongKind = await cli('restart', 'app', 'authentication');
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.err).toMatch(/\(400\): "authentication" is a microservice, not an app/);
    const usage = await cli('restart', 'database', 'x');
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/unknown kind "database"/);
  });
});

describe('provision-vm', () => {
  it('adds a VM from a YAML spec and with --wait exits 0 when it runs', async () => {
    const file = join(dir, 'vm.yaml');
    writeFileSync(file, 'name: vm-extra\nsize: Standard_B1s\nsshKeySecret: VM_SSH_PRIVATE_KEY\n');
    const r = await cli('provision-vm', '--file', file, '--wait');
    expect(r.out).toMatch(/^✔ operation provision-vm-vm-extra Completed: succeeded/);
    expect(r.code).toBe(0);
    const vms = JSON.parse((await cli('status', '--json')).out).vms as Array<{ name: string; powerState: string }>;
    expect(vms.find((v) => v.name === 'vm-extra')?.powerState).toBe('running');
  });

  it('an invalid spec lists the API issues (exit 1); a missing file is a usage error (2)', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'Bad_Name', sshKeySecret: 'VM_SSH_PRIVATE_KEY' }));
    const bad = await cli('provision-vm', '--file', file);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/invalid VM spec/);
    expect(bad.err).toMatch(/name: must be a lowercase DNS label/);
    expect(bad.err).toMatch(/size: is required/);
    const missing = await cli('provision-vm', '--file', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
  });
});

describe('history', () => {
  it('lists recent operations, newest first, including finished ones', async () => {
    const r = await cli('history');
    expect(r.code).toBe(0);
    for (const id of ['boot', 'boot-vm-vm-core', 'restart-svc-authentication', 'restart-vm-vm-ops', 'watchdog']) expect(r.out).toMatch(new RegExp(`^${id}\\s`, 'm'));
    const json = JSON.parse((await cli('history', '--json')).out) as Array<{ createdTime: string }>;
    const times = json.map((o) => Date.parse(o.createdTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("shows one operation's steps as a timeline with names and durations", async () => {
    const r = await cli('history', 'boot');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^boot \(bootPlatform\) Completed — started /);
    // The boot prepares and starts its groups in one step; each group reports once with an event,
    // and the monitoring service (started by the root, last) reports the same way.
    expect(r.out).toMatch(/step done\s+prepareBoot\s+\d/);
    expect(r.out).toMatch(/event\s+bootProgress boot-group-0\s/);
    expect(r.out).toMatch(/event\s+bootProgress monitoring\s/);
    expect(r.out).toMatch(/no failed steps$/);
    // A group runs its VMs as sub-operations and its steps as activities; each reports to it with an event.
    const group = await cli('history', 'boot-group-0');
    expect(group.code).toBe(0);
    expect(group.out).toMatch(/sub-operation done\s+bootVm\b/);
    expect(group.out).toMatch(/step done\s+runBootStep\b/);
    expect(group.out).toMatch(/event\s+bootProgress authentication\s/);
    expect(group.out).toMatch(/event\s+bootProgress vm-core\s/);
  });

  it("shows who asked for a restart and why, and a service's restart records", async () => {
    const op = await cli('history', 'restart-svc-authentication');
    expect(op.code).toBe(0);
    expect(op.out.split('\n')[1]).toMatch(/^requested by \S+/);
    const records = await cli('history', '--service', 'authentication');
    expect(records.code).toBe(0);
    expect(records.out).toMatch(/^TIME\s+EVENT\s+OUTCOME\s+BY\s+WHY/);
    expect(records.out).toMatch(/restart\s+succeeded/);
    expect(records.out).toMatch(/restart\s+started\s+\S+/);
    const json = JSON.parse((await cli('history', '--service', 'authentication', '--json')).out) as Array<{ type: string; requestedBy?: string }>;
    expect(json.filter((e) => e.type === 'restart').every((e) => typeof e.requestedBy === 'string')).toBe(true);
  });

  it('an unknown operation exits 1', async () => {
    const r = await cli('history', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no operation "nope"/);
  });
});

describe('errors before any operation', () => {
  it('no API at the URL: a clear message and exit 1', async () => {
    const c = capture();
    const port = await closedPort();
    const code = await runCli(['status', '--url', `http://127.0.0.1:${port}`], c.io);
    expect(code).toBe(1);
    expect(c.err()).toBe(`no LCM API at http://127.0.0.1:${port}: start one with \`npm start\` or pass --url`);
  });

  it('a wrong key: says so and exits 1', async () => {
    const c = capture();
    const code = await runCli(['registry', '--url', d.apiUrl, '--key', 'wrong'], c.io);
    expect(code).toBe(1);
    expect(c.err()).toMatch(/refused the key \(401\)/);
  });

  it('--help works on every command', async () => {
    for (const cmd of ['deploy', 'status', 'registry', 'restart', 'provision-vm', 'history']) {
      const c = capture();
      expect(await runCli([cmd, '--help'], c.io), cmd).toBe(0);
      expect(c.out(), cmd).toMatch(new RegExp(`Usage: bootstrap-cli ${cmd}`));
    }
  });
});
