/**
 * The central UI in headless Chromium against the one local stack with the example platform
 * booted: sign-in (a wrong key and the monitoring key see nothing), every service shown running,
 * a restart followed live to its end, and the desired-state editor (errors at their field with
 * nothing written, preview then apply reaching the running service, two editors at once), a
 * service's log read on its page and the service moved from there.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn } from '../helpers/browser.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { hang } from '../helpers/hang-guard.js';

let p: TestPlatform;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [p, browser] = await Promise.all([startTestPlatform(), launchChromium()]);
  // The boot starts Apache Kafka (a JVM): on a loaded machine it takes longer than two minutes.
  const boot = await p.run('boot', undefined, 240_000);
  expect(boot.runtimeStatus, JSON.stringify(boot.output)).toBe('Completed');
}, hang(300_000));

afterAll(async () => {
  await browser?.close();
  await p?.stop();
}, hang(90_000));

async function newPage(): Promise<{ page: Page; requests: Array<{ url: string; method: string; key?: string }> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const requests: Array<{ url: string; method: string; key?: string }> = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), key: r.headers()['x-functions-key'] }));
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
      await expect.poll(() => page.locator(`tr[data-service="${name}"] .status`).textContent(), { timeout: hang(20_000) }).toBe('running');
    }
    for (const vm of p.topology.vms) await expect.poll(() => page.locator(`tr[data-vm="${vm.name}"] .status`).textContent()).toBe('running');
    // Kafka is shown with its broker address and its topics (from the desired state).
    expect(await page.locator('section', { hasText: 'Kafka' }).textContent()).toMatch(/vm-core.*:\d+/);
    for (const topic of p.topology.kafka!.topics) await expect.poll(() => page.locator('.topics').textContent()).toContain(topic.name);
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
    await expect.poll(() => op.getAttribute('data-status'), { timeout: hang(60_000) }).toBe('Completed');
    expect(await op.textContent()).toMatch(/requested by central UI/);
    expect(await page.locator('table[aria-label], .table-wrap[aria-label="timeline"]').last().textContent()).toMatch(/restartContainer/);
    const after = (await (await p.api('services/sensor-binder')).json()) as { restartCount: number; events: Array<{ requestedBy?: string }> };
    expect(after.restartCount).toBe(before.restartCount + 1);
    // The list of operations has it, finished, like `bootstrap-cli history`.
    await page.locator('header nav').getByRole('link', { name: 'Operations' }).click();
    // The page reads every known operation id (in batches): on a loaded machine that takes a while.
    await expect.poll(() => page.locator('tr', { hasText: 'restart-svc-sensor-binder' }).textContent({ timeout: hang(60_000) }), { timeout: hang(90_000) }).toMatch(/restartService.*Completed/);
    // The service's page shows who asked and why.
    await page.goto(`${p.host.baseUrl}/api/ui/#/services/sensor-binder`);
    await expect.poll(() => page.locator('section', { hasText: 'Restart history' }).textContent()).toMatch(/central UI.*restarted from the central UI/);
  }, hang(90_000));

  it("starts a boot after a confirmation and follows each VM's and each service's state to the end", async () => {
    const { page } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    await page.locator('[data-action="boot"]').getByRole('button', { name: 'Start a boot' }).click();
    await page.getByRole('button', { name: 'Yes, start a boot' }).click();
    await page.waitForURL(/#\/operations\/boot$/);
    const op = page.locator('[data-operation="boot"]');
    await expect.poll(() => op.getAttribute('data-status'), { timeout: hang(120_000), interval: 1_000 }).toBe('Completed');
    for (const vm of p.topology.vms) expect(await op.locator(`tr[data-vm="${vm.name}"]`).textContent()).toContain('running');
    for (const s of ['kafka', ...serviceNames()]) expect(await op.locator(`tr[data-step="${s}"]`).textContent()).toContain('running');
    expect(await op.textContent()).toMatch(/requested by central UI/);
  }, hang(150_000));

  it('initializes a VM from its row and follows the operation; a VM spec with a bad name shows the error at its field and starts nothing', async () => {
    const { page, requests } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    const row = page.locator('tr[data-vm="vm-ops"]');
    await row.getByRole('button', { name: 'Init' }).click();
    await row.getByRole('button', { name: 'Yes, init' }).click();
    await page.waitForURL(/#\/operations\/init-vm-vm-ops$/);
    await expect.poll(() => page.locator('[data-operation="init-vm-vm-ops"]').getAttribute('data-status'), { timeout: hang(90_000) }).toBe('Completed');
    await page.locator('header nav').getByRole('link', { name: 'Platform' }).click();
    await page.getByRole('link', { name: 'Provision a VM' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Bad_Name');
    await expect.poll(() => page.locator('[data-error-for="name"]').textContent()).toMatch(/lowercase DNS label/);
    expect(await page.getByRole('button', { name: 'Provision' }).isDisabled()).toBe(true);
    expect(requests.some((r) => /\/api\/vms$/.test(r.url) && r.method === 'POST')).toBe(false);
  }, hang(120_000));

  it('an invalid port shows the error at its field, and nothing is written', async () => {
    const { page, requests } = await newPage();
    const before = await desired();
    await openEditor(page);
    const i = serviceIndex('dashboard');
    const card = page.locator('[data-service-card="dashboard"]');
    await card.locator('summary').click();
    for (const [typed, message] of [['70000', /must be between 1 and 65535/], ['80a', /must be a number/]] as const) {
      await card.getByLabel('Port', { exact: true }).fill(typed);
      await expect.poll(() => page.locator(`[data-error-for="services[${i}].port"]`).textContent()).toMatch(message);
      expect(await card.getByLabel('Port', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByRole('button', { name: 'Preview changes' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Apply' }).isDisabled()).toBe(true);
    }
    // Nothing left the page, nothing was written.
    expect(requests.filter((r) => /desired-state/.test(r.url) && !/\/api\/desired-state$/.test(r.url))).toEqual([]);
    expect((await desired()).version).toBe(before.version);
  });

  it("changes a service's environment: the preview first (nothing written), then apply, and the running service has it", async () => {
    const { page } = await newPage();
    const before = await desired();
    const title = `IoT platform (edited in the UI ${Date.now().toString(36)})`;
    await openEditor(page);
    const card = page.locator('[data-service-card="dashboard"]');
    await card.locator('summary').click();
    await card.getByLabel('value of TITLE').fill(title);
    await page.getByRole('button', { name: 'Preview changes' }).click();
    await page.locator('[data-change="recreate:dashboard"]').waitFor();
    expect(await page.locator('[data-preview]').textContent()).toMatch(/recreate.*dashboard.*environment changed/);
    expect((await desired()).version, 'a preview writes nothing').toBe(before.version);
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('[data-banner="done"]').textContent()).toMatch(`version ${before.version + 1}`);
    const op = page.locator('[data-banner="done"] [data-operation="reconcile"]');
    await expect.poll(() => op.getAttribute('data-status'), { timeout: hang(120_000), interval: 1_000 }).toBe('Completed');
    const after = await desired();
    expect(after.version).toBe(before.version + 1);
    expect(after.topology.services.find((s: any) => s.name === 'dashboard').env.TITLE).toBe(title);
    // The running dashboard was recreated with it: its page carries the new title.
    const svc = (await (await p.api('services/dashboard')).json()) as { endpoint: { url: string } };
    const html = await (await fetch(`${svc.endpoint.url}/`)).text();
    expect(html).toContain(`<h1>${title}</h1>`);
  }, hang(180_000));

  it('two people editing at once: the second apply is refused and shown the newer state; nothing of theirs is written', async () => {
    const a = await newPage();
    const b = await newPage();
    await Promise.all([openEditor(a.page), openEditor(b.page)]);
    const before = await desired();
    const edit = async (page: Page, value: string) => {
      const card = page.locator('[data-service-card="anomaly-model"]');
      if (!(await card.getAttribute('open'))) await card.locator('summary').click();
      const field = card.locator('[data-env] input[aria-label^="value of"]').first();
      await field.fill(value);
      await page.getByRole('button', { name: 'Preview changes' }).click();
      await page.locator('[data-preview]').waitFor();
      await page.getByRole('button', { name: 'Apply' }).click();
    };
    const key = Object.keys(p.topology.services.find((s) => s.name === 'anomaly-model')!.env)[0]!;
    await edit(a.page, '3.1');
    await expect.poll(() => a.page.locator('[data-banner="done"]').textContent()).toMatch(`version ${before.version + 1}`);
    await edit(b.page, '3.9');
    const stale = b.page.locator('[data-banner="stale"]');
    await expect.poll(() => stale.textContent()).toMatch(`someone else changed the desired state first (now version ${before.version + 1}`);
    // B now sees A's value, and the stored state is A's.
    const fieldB = b.page.locator('[data-service-card="anomaly-model"] [data-env] input[aria-label^="value of"]').first();
    expect(await fieldB.inputValue()).toBe('3.1');
    const after = await desired();
    expect(after.version).toBe(before.version + 1);
    expect(String(after.topology.services.find((s: any) => s.name === 'anomaly-model').env[key])).toBe('3.1');
    await p.host.waitForInstance('reconcile', { timeoutInMs: hang(120_000) });
  }, hang(180_000));

  it("reads a service's container log on its page; moves a service to another VM after a confirmation and follows the move", async () => {
    const { page } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    await page.goto(`${p.host.baseUrl}/api/ui/#/services/sensor-controller`);
    await page.locator('section', { hasText: 'Logs' }).getByRole('button', { name: 'Container log' }).click();
    // sensor-controller logs what it produces to when it starts.
    await expect.poll(() => page.locator('pre[data-log="container"]').textContent(), { timeout: hang(20_000) }).toMatch(/producing readings of \d+ sensors to sensor-readings/);
    expect(await page.locator('section', { hasText: 'Logs' }).textContent()).toMatch(/read from vm-sensors now/);

    await page.goto(`${p.host.baseUrl}/api/ui/#/services/dashboard`);

    const placement = page.locator('[data-placement="dashboard"]');
    await placement.getByLabel('move to VM').selectOption('vm-ops');
    await placement.getByRole('button', { name: 'Move' }).click();
    // Nothing moves before the confirmation.
    expect((await desired()).topology.services.find((s: any) => s.name === 'dashboard').vm).toBe('vm-apps');
    await placement.getByRole('button', { name: 'Yes, move' }).click();
    await page.waitForURL(/#\/operations\/reconcile$/);
    await expect.poll(() => page.locator('[data-operation="reconcile"]').getAttribute('data-status'), { timeout: hang(120_000), interval: 1_000 }).toBe('Completed');
    expect((await desired()).topology.services.find((s: any) => s.name === 'dashboard').vm).toBe('vm-ops');
    const entry = (await (await p.api('registry/dashboard')).json()) as { vm: string; host: string; port: number };
    expect(entry.vm).toBe('vm-ops');
    expect((await fetch(`http://${entry.host}:${entry.port}/health`)).status).toBe(200);
  }, hang(180_000));

  it('scales a service from its page after a confirmation; its logs then read every replica, or the one chosen', async () => {
    const { page } = await newPage();
    await signIn(page, p.host.baseUrl, p.key);
    await page.goto(`${p.host.baseUrl}/api/ui/#/services/dashboard`);
    const placement = page.locator('[data-placement="dashboard"]');
    await placement.getByLabel('replicas').fill('2');
    await placement.getByRole('button', { name: 'Scale' }).click();
    // Nothing changes before the confirmation.
    expect((await desired()).topology.services.find((s: any) => s.name === 'dashboard').replicas ?? 1).toBe(1);
    await placement.getByRole('button', { name: 'Yes, scale' }).click();
    await page.waitForURL(/#\/operations\/reconcile$/);
    await expect.poll(() => page.locator('[data-operation="reconcile"]').getAttribute('data-status'), { timeout: hang(120_000), interval: 1_000 }).toBe('Completed');
    expect((await desired()).topology.services.find((s: any) => s.name === 'dashboard').replicas).toBe(2);
    const entry = (await (await p.api('registry/dashboard')).json()) as { instances: Array<{ replica?: number; container?: string }> };
    expect(entry.instances).toHaveLength(2);

    await page.goto(`${p.host.baseUrl}/api/ui/#/services/dashboard`);
    const logs = page.locator('section', { hasText: 'Logs' });
    const select = logs.getByLabel('replica');
    await expect.poll(() => select.locator('option').allTextContents(), { timeout: hang(20_000) }).toEqual(['all 2', '0', '1']);
    // Every replica's log, each under a header naming its replica and container.
    await logs.getByRole('button', { name: 'Container log' }).click();
    await expect.poll(() => logs.textContent(), { timeout: hang(20_000) }).toMatch(/logs of 2 replicas, each under its header/);
    const all = (await logs.locator('pre[data-log="container"]').textContent()) ?? '';
    expect(all).toMatch(/==> replica 0: dashboard on vm-ops <==/);
    expect(all).toMatch(/==> replica 1: dashboard-r1 on vm-\S+ <==/);
    // The one chosen: that replica's log alone, read from its VM.
    await select.selectOption('1');
    await logs.getByRole('button', { name: 'Container log' }).click();
    await expect.poll(() => logs.textContent(), { timeout: hang(20_000) }).toMatch(/log, read from vm-\S+ now/);
    expect(await logs.locator('pre[data-log="container"]').textContent()).not.toMatch(/==> replica/);
  }, hang(180_000));
});

async function desired(): Promise<{ version: number; topology: any }> {
  const res = await p.api('desired-state');
  expect(res.status).toBe(200);
  return (await res.json()) as { version: number; topology: any };
}

const serviceIndex = (name: string) => p.topology.services.findIndex((s) => s.name === name);

async function openEditor(page: Page): Promise<void> {
  await signIn(page, p.host.baseUrl, p.key);
  await page.locator('header nav').getByRole('link', { name: 'Desired state' }).click();
  await page.locator('[data-service-card]').first().waitFor();
}
