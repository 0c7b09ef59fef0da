import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { selfHealingPlatform, until } from '../helpers/self-healing.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;
const get = async (path: string) => (await p.api(path)).json() as Promise<any>;

beforeAll(async () => {
  p = await startTestPlatform(selfHealingPlatform());
  const boot = await p.run('boot');
  if (!boot.output || boot.output.failures.some((f: any) => f.target !== 'crasher')) throw new Error(`boot failed: ${JSON.stringify(boot.output)}`);
}, hang(180_000));

afterAll(async () => {
  await p?.stop();
});

describe('self-healing', () => {
  it('the boot started exactly one watchdog once monitoring ran', () => {
    const watchdogs = p.host.listInstances({ name: 'watchdog' });
    expect(watchdogs.map((w) => w.instanceId)).toEqual(['watchdog']);
    expect(watchdogs[0]!.runtimeStatus).toBe('Running');
  });

  it('monitoring notices a service that stays down and gets it restarted, with no one calling the API', async () => {
    await p.azure.fleet.crashContainer('vm-apps', 'deployment-manager', { stayDown: true });
    const healed = await until('deployment-manager to be restarted by monitoring', async () => {
      const svc = await get('services/deployment-manager');
      const ok = svc.events.find((e: any) => e.type === 'restart' && e.outcome === 'succeeded' && e.requestedBy === 'monitoring');
      return ok ? svc : undefined;
    });
    expect(healed.restartCount).toBeGreaterThanOrEqual(1);
    expect(healed.state).toBe('running');
    expect((await fetch(`${healed.endpoint.url}/health`)).status).toBe(200);
    const started = healed.events.find((e: any) => e.type === 'restart' && e.outcome === 'started');
    expect(started.reason).toMatch(/failed \d+ health probes in a row/);
  }, hang(90_000));

  it('monitoring has a hung service (docker pause: its port answers nothing, its process stays) restarted', async () => {
    const before = await get('services/authentication');
    await p.azure.fleet.hangContainer('vm-core', 'authentication');
    const healed = await until('authentication to be restarted by monitoring', async () => {
      const svc = await get('services/authentication');
      return svc.restartCount > before.restartCount && svc.state === 'running' && svc.events.some((e: any) => e.type === 'restart' && e.outcome === 'succeeded' && e.requestedBy === 'monitoring') ? svc : undefined;
    });
    expect((await fetch(`${healed.endpoint.url}/health`)).status).toBe(200);
  }, hang(90_000));

  it('the watchdog brings the monitoring service back', async () => {
    await p.azure.fleet.crashContainer('vm-ops', 'monitoring', { stayDown: true });
    const healed = await until('monitoring to be restarted by the watchdog', async () => {
      const svc = await get('services/monitoring');
      return svc.events.find((e: any) => e.type === 'restart' && e.outcome === 'succeeded' && e.requestedBy === 'watchdog') ? svc : undefined;
    });
    expect((await fetch(`${healed.endpoint.url}/health`)).status).toBe(200);
  }, hang(90_000));

  it('a service that crashes on every start backs off, then is marked failed: no restart storm', async () => {
    const failed = await until(
      'crasher to be marked failed',
      async () => {
        const svc = await get('services/crasher');
        return svc.state === 'failed' && svc.events.some((e: any) => e.type === 'restart' && e.outcome === 'failed') ? svc : undefined;
      },
      120_000,
    );
    // Each restart of the streak waited the policy's doubling back-off since the one before.
    const starts = failed.events
      .filter((e: any) => e.type === 'restart' && e.outcome === 'started')
      .sort((a: any, b: any) => a.details.streak - b.details.streak);
    expect(starts.map((e: any) => e.details.backoffInMs)).toEqual([0, 400, 800]);
    for (let i = 1; i < starts.length; i++) {
      expect(Date.parse(starts[i].at) - Date.parse(starts[i - 1].at)).toBeGreaterThanOrEqual(starts[i].details.backoffInMs);
    }
    const gaveUp = failed.events.find((e: any) => e.type === 'restart' && e.outcome === 'failed');
    expect(gaveUp.reason).toMatch(/restarted 3 times/);
    // No storm: in a fixed window after giving up, the LCM restarts it no more.
    const countBefore = (await get('services/crasher')).restartCount;
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await get('services/crasher')).restartCount).toBe(countBefore);
    expect(countBefore).toBeLessThanOrEqual(3);
  }, hang(150_000));

  it('the watchdog follows the monitoring service to the VM it was moved to, and finds it healthy there', async () => {
    const restartsByWatchdog = async () => (await get('services/monitoring')).events.filter((e: any) => e.type === 'restart' && e.outcome === 'started' && e.requestedBy === 'watchdog').length;
    const before = await restartsByWatchdog();
    const moved = await p.run('services/monitoring/move', { to: 'vm-apps' });
    expect(moved.runtimeStatus, JSON.stringify(moved.output)).toBe('Completed');
    expect((await get('registry/monitoring')).vm).toBe('vm-apps');
    // A few rounds (1 s each, 2 failures before a restart): checking the VM it left would fail and restart it.
    const watched = await until('the watchdog to check monitoring on vm-apps', async () => {
      const s = p.host.getInstance('watchdog')?.customStatus as { vm?: string; healthy?: boolean; rounds?: number } | undefined;
      return s?.vm === 'vm-apps' && s.healthy ? s : undefined;
    });
    await until('three more healthy rounds', async () => {
      const s = p.host.getInstance('watchdog')?.customStatus as { vm?: string; healthy?: boolean; rounds?: number } | undefined;
      return s?.vm === 'vm-apps' && s.healthy && (s.rounds ?? 0) >= (watched.rounds ?? 0) + 3;
    });
    expect(await restartsByWatchdog()).toBe(before);
  }, hang(120_000));

  it('with two replicas of monitoring, the watchdog restarts only the replica that stays down', async () => {
    const asked = new Date().toISOString();
    expect((await p.api('services/monitoring/scale', { method: 'POST', body: JSON.stringify({ replicas: 2 }) })).status).toBe(202);
    // The reconcile's id is fixed: wait for this run of it, not the move's.
    await until('the scale to finish', async () => {
      const r = p.host.getInstance('reconcile');
      return r && r.createdTime >= asked && r.runtimeStatus === 'Completed';
    }, hang(90_000));
    type Status = { healthy?: boolean; replicas?: Array<{ replica: number; vm: string; container: string; healthy: boolean }> };
    const watched = await until('the watchdog to check both replicas healthy', async () => {
      const s = p.host.getInstance('watchdog')?.customStatus as Status | undefined;
      return s?.healthy && s.replicas?.length === 2 ? s.replicas : undefined;
    });
    // The watchdog did not restart the new replica while the reconcile was starting it.
    const byWatchdog = (svc: any, after: string) => svc.events.filter((e: any) => e.type === 'restart' && e.requestedBy === 'watchdog' && e.at >= after);
    expect(byWatchdog(await get('services/monitoring'), asked)).toEqual([]);

    const [zero, one] = watched;
    const startedAt = (r: { vm: string; container: string }) => p.azure.fleet.docker(r.vm, ['inspect', '-f', '{{.State.StartedAt}}', r.container]).then((o) => o.trim());
    const first = await startedAt(zero!);
    const crashed = new Date().toISOString();
    await p.azure.fleet.crashContainer(one!.vm, one!.container, { stayDown: true });
    const events = await until('the watchdog to restart replica 1', async () => {
      const ev = byWatchdog(await get('services/monitoring'), crashed);
      return ev.some((e: any) => e.outcome === 'succeeded') ? ev : undefined;
    });
    expect(events.map((e: any) => `${e.outcome} ${JSON.stringify(e.details?.replicas)}`).sort()).toEqual(['started [1]', 'succeeded [1]']);
    const started = events.find((e: any) => e.outcome === 'started');
    expect(started.reason).toMatch(new RegExp(`^monitoring replica 1 \\(${one!.container} on ${one!.vm}\\) failed 2 health checks in a row`));
    // Replica 0 was not touched; replica 1 answers again.
    expect(await startedAt(zero!)).toBe(first);
    const r1 = (await get('registry/monitoring')).instances.find((i: any) => i.replica === 1);
    expect(r1, 'replica 1 is registered again').toBeDefined();
    expect((await fetch(`${r1.url}/health`)).status).toBe(200);
  }, hang(120_000));
});
