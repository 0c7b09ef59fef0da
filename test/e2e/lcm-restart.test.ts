import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { preparePlatform, spawnHost, type PreparedPlatform } from '../helpers/platform.js';
import { selfHealingPlatform, until } from '../helpers/self-healing.js';
import { hang } from '../helpers/hang-guard.js';

let prepared: PreparedPlatform | undefined;
let host: ChildProcess | undefined;

afterAll(async () => {
  host?.kill('SIGKILL');
  await prepared?.stop();
});

describe('the LCM itself stops mid-work', () => {
  it('a host killed while the watchdog and a restart run resumes both, with still exactly one watchdog', async () => {
    // A long back-off makes the second restart wait on a durable timer when the host is killed. It
    // counts from the first restart's start, so it must outlast that restart and the second request
    // on a slow machine (4 s did not: the second restart found it spent and never waited).
    const backoff = hang(12_000);
    const { topology, codeRoot } = selfHealingPlatform({ initialBackoffInMs: backoff, maxBackoffInMs: 2 * backoff, resetAfterInMs: 600_000, maxFailures: 5 });
    prepared = await preparePlatform({ topology, codeRoot });
    let { proc, baseUrl } = await spawnHost(prepared);
    host = proc;
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${baseUrl}/api/${path}`, { ...init, headers: { 'x-functions-key': prepared!.key, 'content-type': 'application/json' } });
    const finished = (id: string) =>
      until(`${id} to finish`, async () => {
        const s = (await (await call(`operations/${id}`)).json()) as any;
        return ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus) ? s : undefined;
      }, hang(120_000));

    expect((await call('boot', { method: 'POST' })).status).toBe(202);
    expect((await finished('boot')).output.status).not.toBe('failed');
    const before = await until('the watchdog to run a round', async () => {
      const s = (await (await call('operations/watchdog')).json()) as any;
      return s.runtimeStatus === 'Running' && s.customStatus?.rounds >= 1 ? s : undefined;
    });

    expect((await call('services/authentication/restart', { method: 'POST' })).status).toBe(202);
    expect((await finished('restart-svc-authentication')).output.outcome).toBe('restarted');
    expect((await call('services/authentication/restart', { method: 'POST' })).status).toBe(202);
    await until('the second restart to wait on its back-off timer', async () => {
      const s = (await (await call('services/authentication')).json()) as any;
      return s.events.some((e: any) => e.type === 'backoff') ? s : undefined;
    });

    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    ({ proc, baseUrl } = await spawnHost(prepared));
    host = proc;

    const restart = await finished('restart-svc-authentication');
    expect(restart.output.outcome).toBe('restarted');
    expect(restart.output.delayedInMs).toBeGreaterThan(0);
    const svc = (await (await call('services/authentication')).json()) as any;
    expect(svc.restartCount).toBe(2);

    const after = await until('the watchdog to carry on after the restart', async () => {
      const s = (await (await call('operations/watchdog')).json()) as any;
      return s.runtimeStatus === 'Running' && s.customStatus?.rounds > before.customStatus.rounds + 1 ? s : undefined;
    });
    expect(after.customStatus.healthy).toBe(true);
    const platform = (await (await call('platform')).json()) as any;
    expect(platform.operations.filter((o: any) => o.name === 'watchdog').map((o: any) => o.id)).toEqual(['watchdog']);
  }, hang(240_000));
});
