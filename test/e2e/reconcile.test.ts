/**
 * Desired state that converges, end to end on one small platform (two VMs, no Kafka, four copies
 * of a tiny echo service): after the boot the dry run is empty; a changed environment plus a
 * removed service reconcile to exactly those two container changes and no ARM write; scaling
 * 1 -> 3 -> 1 and moving a service to the other VM keep every call of a client that polls the
 * registry and calls each listed endpoint answered; every dry run matches what the reconcile did.
 */
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../bootstrap-cli/main.js';
import type { CliIo } from '../../bootstrap-cli/io.js';
import { assertTopology } from '../../functions/platform/validate.js';
import type { ChildProcess } from 'node:child_process';
import { preparePlatform, spawnHost, type PreparedPlatform } from '../helpers/platform.js';
import { until } from '../helpers/self-healing.js';
import { minimalDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

/** The platform, with its host a child process the last test kills (SIGKILL) and starts again. */
interface Platform {
  prepared: PreparedPlatform;
  proc: ChildProcess;
  baseUrl: string;
  key: string;
  azure: PreparedPlatform['azure'];
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Follows an operation through GET /api/operations/{id} until it is no longer active. */
  finished(id: string, timeoutInMs?: number): Promise<any>;
}
let p: Platform;
let codeRoot: string;

async function startHost(prepared: PreparedPlatform): Promise<Platform> {
  const { proc, baseUrl } = await spawnHost(prepared);
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}/api/${path}`, { ...init, headers: { 'x-functions-key': prepared.key, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return {
    prepared,
    proc,
    baseUrl,
    key: prepared.key,
    azure: prepared.azure,
    api,
    finished: (id, timeoutInMs = 180_000) =>
      until(`${id} to finish`, async () => {
        const res = await api(`operations/${id}`);
        const s = (await res.json()) as any;
        return res.status === 200 && ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus) ? s : undefined;
      }, timeoutInMs),
  };
}

function document(): any {
  const d = minimalDocument();
  d.name = 'converge';
  delete d.kafka;
  d.vms = [
    { name: 'vm-a', size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' },
    { name: 'vm-b', size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' },
  ];
  const svc = (name: string, vm: string, port: number, extra: Record<string, unknown> = {}) => ({
    name, kind: 'microservice', vm, port, source: 'echo', env: { SERVICE_NAME: name }, health: { path: '/health', startupTimeoutInMs: 30_000 }, ...extra,
  });
  d.services = [
    svc('api', 'vm-a', 8200), // replicas take 8201, 8202
    svc('web', 'vm-a', 8101, { dependsOn: ['api'], env: { SERVICE_NAME: 'web', MODE: 'one' } }),
    svc('extra', 'vm-b', 8102),
    // Holds port 8101 on vm-b: web cannot move there.
    svc('cache', 'vm-b', 8101),
  ];
  return d;
}

beforeAll(async () => {
  codeRoot = mkdtempSync(join(tmpdir(), 'lcm-converge-'));
  cpSync(new URL('../fixtures/services/echo', import.meta.url).pathname, join(codeRoot, 'echo'), { recursive: true });
  const prepared = await preparePlatform({ topology: assertTopology(document()), codeRoot });
  p = await startHost(prepared);
  expect((await p.api('boot', { method: 'POST' })).status).toBe(202);
  const boot = await p.finished('boot', 240_000);
  expect(boot.runtimeStatus, JSON.stringify(boot.output)).toBe('Completed');
  expect(boot.output.status, JSON.stringify(boot.output)).toBe('succeeded');
}, hang(300_000));

afterAll(async () => {
  p?.proc.kill('SIGKILL');
  await p?.prepared.stop();
  if (codeRoot) rmSync(codeRoot, { recursive: true, force: true });
}, hang(90_000));

/** Runs bootstrap-cli in process against this platform's API; RECORD_CLI_OUTPUT=<file> keeps the transcript (the README's examples). */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), isTty: false };
  const code = await runCli([...args, '--url', p.baseUrl, '--key', p.key], io);
  const result = { code, out: out.join('\n'), err: err.join('\n') };
  if (process.env.RECORD_CLI_OUTPUT) appendFileSync(process.env.RECORD_CLI_OUTPUT, `$ bootstrap-cli ${args.join(' ')}\n${result.err ? `${result.err}\n` : ''}${result.out}\n\n`);
  return result;
}

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
const desired = async () => (await json(await p.api('desired-state'))).body;
const plan = async (topology?: unknown) => json(await p.api('desired-state/plan', { method: 'POST', body: topology === undefined ? undefined : JSON.stringify({ topology }) }));

/** Follows the reconcile to its end (through continueAsNew) and returns its output. */
async function reconciled(timeoutInMs = 180_000): Promise<any> {
  const done = await p.finished('reconcile', timeoutInMs);
  expect(done.runtimeStatus, JSON.stringify(done.output)).toBe('Completed');
  return done.output;
}

/** A client of `service`: polls the registry and calls every listed endpoint until stopped. */
function client(service: string, tolerateRegistryOutage = false) {
  let running = true;
  const stats = { calls: 0, failures: [] as string[], seen: new Set<string>(), maxInstances: 0, registryOutages: 0 };
  const loop = (async () => {
    while (running) {
      try {
        const res = await p.api(`registry/${service}`);
        if (res.status !== 200) throw new Error(`GET /api/registry/${service}: ${res.status}`);
        const entry = (await res.json()) as any;
        const instances: Array<{ vm: string; url: string }> = entry.instances ?? [];
        if (instances.length === 0) stats.failures.push('the registry listed no healthy instance');
        stats.maxInstances = Math.max(stats.maxInstances, instances.length);
        await Promise.all(
          instances.map(async (i) => {
            stats.calls++;
            stats.seen.add(`${i.vm} ${i.url}`);
            try {
              const res = await fetch(`${i.url}/hello`, { signal: AbortSignal.timeout(3_000) });
              if (!res.ok) stats.failures.push(`${i.url}: HTTP ${res.status}`);
            } catch (e) {
              stats.failures.push(`${i.url}: ${(e as Error).message}`);
            }
          }),
        );
      } catch (e) {
        // The LCM's own API down (its host killed): the registry cannot be read, the services still answer.
        if (tolerateRegistryOutage) stats.registryOutages++;
        else stats.failures.push(`registry: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stats, stop: async () => ((running = false), await loop, stats) };
}

describe('reconcile', () => {
  it('after the boot, the dry run finds nothing to change (the boot and the reconcile start services one way)', async () => {
    const res = await plan();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ changes: [], unchanged: ['api', 'web', 'extra', 'cache'] });
  });

  it('a changed environment and a removed service: exactly those two container changes, no ARM write, nothing else restarted', async () => {
    const current = await desired();
    const next = structuredClone(current.topology);
    next.services.find((s: any) => s.name === 'web').env.MODE = 'two';
    next.services = next.services.filter((s: any) => s.name !== 'extra');
    const dry = await plan(next);
    expect(dry.body.changes).toEqual([
      { action: 'recreate', kind: 'service', name: 'web', vm: 'vm-a', reason: 'environment changed' },
      { action: 'stop', kind: 'service', name: 'extra', vm: 'vm-b', reason: 'removed from the desired state' },
    ]);
    const apiBefore = (await json(await p.api('registry/api'))).body;
    const cacheBefore = (await json(await p.api('registry/cache'))).body;
    const armBefore = p.azure.arm.log.counts();

    const file = join(codeRoot, 'topology.yaml');
    writeFileSync(file, stringify(next));
    const live = await cli('plan', '--against-live', '--config', file);
    expect(live.code, live.err).toBe(0);
    expect(live.out).toContain('recreate  service web on vm-a: environment changed');
    const applied = await cli('apply', '--config', file);
    expect(applied.code, applied.err + applied.out).toBe(0);
    expect(applied.out).toContain(`desired state written: version ${current.version + 1}`);
    expect(applied.out).toContain('✔ reconcile succeeded: 2 changes, 2 steps');
    const out = (await reconciled()) as any;
    expect(out.status, JSON.stringify(out)).toBe('succeeded');
    expect(out.changes).toEqual(dry.body.changes);
    // The container operations: one replaced, one removed; nothing else touched.
    expect(out.steps.map((s: any) => `${s.op} ${s.service}@${s.vm}: ${s.outcome}`)).toEqual(['stop extra@vm-b: removed', 'recreate web@vm-a: replaced']);
    expect(p.azure.arm.log.counts().writes - armBefore.writes).toBe(0);
    expect((await json(await p.api('registry/api'))).body.startedAt).toBe(apiBefore.startedAt);
    expect((await json(await p.api('registry/cache'))).body.startedAt).toBe(cacheBefore.startedAt);
    expect((await p.api('registry/extra')).status).toBe(404);
    const web = (await json(await p.api('registry/web'))).body;
    expect(((await (await fetch(`http://${web.host}:${web.port}/`)).json()) as any).mode).toBe('two');
    expect((await plan()).body.changes).toEqual([]);
  }, hang(240_000));

  it('scale 1 -> 3 -> 1 with a client calling every registered endpoint: no failed call', async () => {
    const c = client('api');
    try {
      const three = structuredClone((await desired()).topology);
      three.services.find((s: any) => s.name === 'api').replicas = 3;
      const dryUp = await plan(three);
      expect(dryUp.body.changes).toEqual([{ action: 'scale', kind: 'service', name: 'api', replicas: { from: 1, to: 3 }, reason: '3 replica(s) desired, 1 found' }]);
      const up = await cli('scale', 'api', '3');
      expect(up.code, up.err + up.out).toBe(0);
      const outUp = await reconciled();
      expect(outUp.changes).toEqual(dryUp.body.changes);
      expect(outUp.steps.map((s: any) => `${s.op} ${s.container}: ${s.outcome}`)).toEqual(['start api-r1: created', 'start api-r2: created']);
      const entry = (await json(await p.api('registry/api'))).body;
      expect(entry.instances.map((i: any) => i.port)).toEqual([8200, 8201, 8202]);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(c.stats.maxInstances).toBe(3);

      // The logs of every replica, each labelled; or one replica's; a replica it does not have is refused.
      const all = (await json(await p.api('services/api/logs?lines=20'))).body;
      expect(all.logs.map((l: any) => `${l.replica} ${l.container}@${l.vm}: ${l.text.trim()}`)).toEqual([
        '0 api@vm-a: api listening on 8200',
        '1 api-r1@vm-a: api listening on 8201',
        '2 api-r2@vm-a: api listening on 8202',
      ]);
      expect(all.text).toContain('==> replica 2: api-r2 on vm-a <==\napi listening on 8202');
      const every = await cli('logs', 'api', '--lines', '5');
      expect(every.code, every.err).toBe(0);
      expect(every.out.split('\n').filter((l) => l.startsWith('==> '))).toEqual(['==> replica 0: api on vm-a <==', '==> replica 1: api-r1 on vm-a <==', '==> replica 2: api-r2 on vm-a <==']);
      const second = await cli('logs', 'api', '--replica', '1');
      expect(second, second.err).toMatchObject({ code: 0, out: 'api listening on 8201' });
      const none = await json(await p.api('services/api/logs?replica=3'));
      expect(none).toEqual({ status: 400, body: { error: 'replica must be an integer from 0 to 2 ("api" has 3 replicas)' } });

      const one = structuredClone((await desired()).topology);
      one.services.find((s: any) => s.name === 'api').replicas = 1;
      const dryDown = await plan(one);
      expect(dryDown.body.changes).toEqual([{ action: 'scale', kind: 'service', name: 'api', replicas: { from: 3, to: 1 }, reason: '1 replica(s) desired, 3 found' }]);
      expect((await p.api('services/api/scale', { method: 'POST', body: JSON.stringify({ replicas: 1 }) })).status).toBe(202);
      const outDown = await reconciled();
      expect(outDown.changes).toEqual(dryDown.body.changes);
      expect(outDown.steps.map((s: any) => `${s.op} ${s.container}: ${s.outcome}`)).toEqual(['drain api-r1: removed', 'drain api-r2: removed']);
      expect((await json(await p.api('registry/api'))).body.instances.map((i: any) => i.port)).toEqual([8200]);
    } finally {
      const stats = await c.stop();
      expect(stats.failures).toEqual([]);
      expect(stats.calls).toBeGreaterThan(20);
    }
  }, hang(240_000));

  it('move to the other VM with the client calling throughout: no failed call; the desired state records it', async () => {
    const c = client('api');
    try {
      const moved = structuredClone((await desired()).topology);
      moved.services.find((s: any) => s.name === 'api').vm = 'vm-b';
      const dry = await plan(moved);
      expect(dry.body.changes).toEqual([{ action: 'move', kind: 'service', name: 'api', from: 'vm-a', to: 'vm-b', reason: 'placed on vm-b' }]);
      const res = await cli('move', 'api', 'vm-b');
      expect(res.code, res.err + res.out).toBe(0);
      const out = await reconciled();
      expect(out.changes).toEqual(dry.body.changes);
      expect(out.steps.map((s: any) => `${s.op} ${s.service}@${s.vm}: ${s.outcome}`)).toEqual(['start api@vm-b: created', 'drain api@vm-a: removed']);
      const entry = (await json(await p.api('registry/api'))).body;
      expect(entry.vm).toBe('vm-b');
      expect(entry.instances.map((i: any) => i.vm)).toEqual(['vm-b']);
      expect((await desired()).topology.services.find((s: any) => s.name === 'api').vm).toBe('vm-b');
    } finally {
      const stats = await c.stop();
      expect(stats.failures).toEqual([]);
      expect([...stats.seen].some((s) => s.startsWith('vm-a'))).toBe(true);
      expect([...stats.seen].some((s) => s.startsWith('vm-b'))).toBe(true);
    }
  }, hang(240_000));

  it('a move to a VM that cannot run it is refused before anything changes', async () => {
    const before = await desired();
    const clash = await json(await p.api('services/web/move', { method: 'POST', body: JSON.stringify({ to: 'vm-b' }) }));
    expect(clash.status).toBe(400);
    expect(clash.body.error).toMatch(/cannot move "web" to VM "vm-b"/);
    expect(clash.body.issues).toEqual([{ path: 'services[2].port', message: 'port 8101 on VM "vm-b" is already used by service "web"' }]);
    expect((await p.api('services/web/move', { method: 'POST', body: JSON.stringify({ to: 'vm-zz' }) })).status).toBe(404);
    expect(await desired()).toEqual(before);
    expect((await json(await p.api('registry/web'))).body.vm).toBe('vm-a');
  });

  it('the host killed mid-move: the move finishes after a restart, with no step twice and no failed call', async () => {
    const c = client('api', true);
    try {
      const res = await p.api('services/api/move', { method: 'POST', body: JSON.stringify({ to: 'vm-a' }) });
      expect(res.status).toBe(202);
      // The new container is registered (its start done) and the old one not yet drained: kill the host now.
      // (Or the new side alone, should a busy machine let the 2 s drain grace pass between two polls.)
      await until('both sides of the move registered', async () => {
        const entry = (await (await p.api('registry/api')).json()) as any;
        return entry.instances?.length === 2 || entry.instances?.some((i: any) => i.vm === 'vm-a') ? entry : undefined;
      }, hang(120_000)).catch(async (e: Error) => {
        throw new Error(`${e.message}; the reconcile: ${await (await p.api('operations/reconcile')).text()}`);
      });
      p.proc.kill('SIGKILL');
      await new Promise((r) => p.proc.once('exit', r));
      p = await startHost(p.prepared);
      const out = await reconciled();
      expect(out.status, JSON.stringify(out)).toBe('succeeded');
      expect(out.steps.map((s: any) => `${s.op} ${s.service}@${s.vm}: ${s.outcome}`)).toEqual(['start api@vm-a: created', 'drain api@vm-b: removed']);
      // Each piece of work once: one start, one deregistration, one stop in the reconcile's history.
      const history = ((await (await p.api('operations/reconcile?history=true')).json()) as any).history as Array<{ EventType: string; FunctionName?: string }>;
      const completed = (name: string) => history.filter((e) => (e.EventType === 'TaskCompleted' || e.EventType === 'TaskFailed') && e.FunctionName === name).length;
      expect([completed('startService'), completed('deregisterInstance'), completed('stopContainer')]).toEqual([1, 1, 1]);
      expect(((await (await p.api('registry/api')).json()) as any).instances.map((i: any) => i.vm)).toEqual(['vm-a']);
    } finally {
      const stats = await c.stop();
      expect(stats.failures).toEqual([]);
    }
  }, hang(300_000));
});
