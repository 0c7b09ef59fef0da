/**
 * The central UI in headless Chromium against the one local stack with the example platform
 * booted: sign-in (a wrong key and the monitoring key see nothing), every service shown running,
 * a restart followed live to its end, and the desired-state editor (errors at their field with
 * nothing written, preview then apply reaching the running service, two editors at once).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn } from '../helpers/browser.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

let p: TestPlatform;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [p, browser] = await Promise.all([startTestPlatform(), launchChromium()]);
  // The boot starts Apache Kafka (a JVM): on a loaded machine it takes longer than two minutes.
  const boot = await p.run('boot', undefined, 240_000);
  expect(boot.runtimeStatus, JSON.stringify(boot.output)).toBe('Completed');
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await p?.stop();
}, 90_000);

async function newPage(): Promise<{ page: Page; requests: Array<{ url: string; key?: string }> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const requests: Array<{ url: string; key?: string }> = [];
  page.on('request', (r) => requests.push({ url: r.url(), key: r.headers()['x-functions-key'] }));
  return { page, requests };
}

const serviceNames = () => p.topology.services.map((s) => s.name);

describe('the central UI', () => {
  it('serves its files without a key, and nothing else: the data routes still need one', async () => {
    const page = await fetch(`${p.host.baseUrl}/api/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    const script = /src="\/api\/ui\/(app-[0-9a-f]{12}\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${p.host.baseUrl}/api/ui/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    // No other file of the machine is reachable through it, and no data is in it.
    for (const probe of ['..%2F..%2Fpackage.json', '%2E%2E%2Fhost.json', 'app-000000000000.js']) {
      const res = await fetch(`${p.host.baseUrl}/api/ui/${probe}`);
      const text = await res.text();
      expect(text, probe).not.toContain('"dependencies"');
      expect(text, probe).not.toContain('functionTimeout');
    }
    expect(html).not.toContain('authentication');
    expect((await fetch(`${p.host.baseUrl}/api/platform`)).status).toBe(401);
  });

  it('a wrong key, and the monitoring key, see nothing but the sign-in', async () => {
    for (const key of ['not-the-key', p.monitoringKey]) {
      const { page } = await newPage();
      await signIn(page, p.host.baseUrl, key);
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/does not open the LCM/);
      expect(await page.locator('header nav').count()).toBe(0);
      const text = (await page.textContent('body')) ?? '';
      for (const name of [...serviceNames(), ...p.topology.vms.map((v) => v.name)]) expect(text).not.toContain(name);
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
    }
  });

  it('signs in with the operator key (once per session, never in a URL) and shows every service of the example running', async () => {
    const { page, requests } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    for (const name of serviceNames()) {
      await expect.poll(() => page.locator(`tr[data-service="${name}"] .status`).textContent(), { timeout: 20_000 }).toBe('running');
    }
    for (const vm of p.topology.vms) await expect.poll(() => page.locator(`tr[data-vm="${vm.name}"] .status`).textContent()).toBe('running');
    // Kafka is shown with its broker address.
    expect(await page.locator('section', { hasText: 'Kafka' }).textContent()).toMatch(/vm-core.*:\d+/);
    // A reload keeps the session: no second sign-in.
    await page.reload();
    await expect.poll(() => page.locator('tr[data-service="dashboard"] .status').textContent()).toBe('running');
    expect(requests.some((r) => r.url.includes(p.key)), 'the key never travels in a URL').toBe(false);
    const apiCalls = requests.filter((r) => /\/api\/(?!ui)/.test(r.url));
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.every((r) => r.key === p.key)).toBe(true);
  });

  it('restarts a service after a confirmation and follows the operation live to its end', async () => {
    const { page } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    const before = (await (await p.api('services/sensor-binder')).json()) as { restartCount: number };
    const row = page.locator('tr[data-service="sensor-binder"]');
    await row.getByRole('button', { name: 'Restart' }).click();
    // Destructive: nothing starts before the confirmation.
    expect(p.host.getInstance('restart-svc-sensor-binder')).toBeUndefined();
    await row.getByRole('button', { name: 'Yes, restart' }).click();
    await page.waitForURL(/#\/operations\/restart-svc-sensor-binder$/);
    const op = page.locator('[data-operation="restart-svc-sensor-binder"]');
    await expect.poll(() => op.getAttribute('data-status'), { timeout: 60_000 }).toBe('Completed');
    expect(await op.textContent()).toMatch(/requested by central UI/);
    expect(await page.locator('table[aria-label], .table-wrap[aria-label="timeline"]').last().textContent()).toMatch(/restartContainer/);
    const after = (await (await p.api('services/sensor-binder')).json()) as { restartCount: number; events: Array<{ requestedBy?: string }> };
    expect(after.restartCount).toBe(before.restartCount + 1);
    // The service's page shows who asked and why.
    await page.goto(`${p.host.baseUrl}/api/ui/#/services/sensor-binder`);
    await expect.poll(() => page.locator('section', { hasText: 'Restart history' }).textContent()).toMatch(/central UI.*restarted from the central UI/);
  }, 90_000);
});
