/**
 * A real network partition during a boot: one VM's link goes down right after it powers on (its
 * namespace's interface, not an emulator flag). Its branch fails with a reason naming it while the
 * rest of the platform boots; when the link is back, the next boot heals it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertTopology } from '../../functions/platform/validate.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { compactDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;
beforeAll(async () => {
  // Shorter SSH timeouts than the default 6 x 20 s: the cut-off VM is reported in seconds, not minutes.
  p = await startTestPlatform({ topology: assertTopology(compactDocument()), settings: { LCM_SSH_CONNECT_TIMEOUT_MS: '5000', LCM_SSH_CONNECT_ATTEMPTS: '3' } });
}, hang(120_000));
afterAll(async () => {
  await p?.stop();
});

describe('a VM cut off mid-boot', () => {
  it('fails its branch with a clear reason while the rest boots, and heals when the link returns', async () => {
    const res = await p.api('boot', { method: 'POST' });
    expect(res.status).toBe(202);
    const deadline = Date.now() + 120_000;
    while (!p.azure.fleet.get('vm-apps')?.running) {
      if (Date.now() > deadline) throw new Error('vm-apps never powered on');
      await new Promise((r) => setTimeout(r, 50));
    }
    await p.azure.fleet.setLink('vm-apps', false);
    const done = await p.host.waitForInstance('boot', { timeoutInMs: hang(400_000) });
    const out = done.output as any;
    expect(out.status).toBe('partial');
    const failure = out.failures.find((f: any) => f.target === 'vm-apps');
    expect(failure, JSON.stringify(out.failures)).toBeDefined();
    expect(failure.reason).toMatch(/vm-apps|VM "vm-apps"/);
    expect(failure.reason).toMatch(/timed out|handshake|ETIMEDOUT|EHOSTUNREACH/i);
    const byName = Object.fromEntries(out.services.map((s: any) => [s.name, s]));
    for (const name of ['authentication', 'request-manager', 'monitoring']) expect(byName[name].status, name).toBe('running');
    expect(byName['deployment-manager'].status).not.toBe('running');

    await p.azure.fleet.setLink('vm-apps', true);
    const healed = await p.run('boot', undefined, 300_000);
    expect(healed.output.status, JSON.stringify(healed.output.failures)).toBe('succeeded');
  }, hang(720_000));
});
