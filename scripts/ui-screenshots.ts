/**
 * Takes the README's screenshots of the real central UI (`npx tsx scripts/ui-screenshots.ts`, as
 * root after `npm run setup`): the example platform booted on the one local stack, the overview
 * (docs/ui-overview.png) and the desired-state editor showing its preview of an environment change
 * (docs/ui-editor.png; previewed, not applied). Headless Chromium through playwright-core.
 */
import { mkdirSync } from 'node:fs';
import { launchChromium, signIn } from '../test/helpers/browser.js';
import { startTestPlatform } from '../test/helpers/platform.js';

const docs = new URL('../docs/', import.meta.url).pathname;
mkdirSync(docs, { recursive: true });
console.log('starting the local stack and booting the example platform (a few minutes)');
const [p, browser] = await Promise.all([startTestPlatform(), launchChromium()]);
try {
  const boot = await p.run('boot', undefined, 300_000);
  if (boot.runtimeStatus !== 'Completed') throw new Error(`boot ${boot.runtimeStatus}: ${JSON.stringify(boot.output)}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, p.host.baseUrl, p.key);
  for (const s of p.topology.services) await page.locator(`tr[data-service="${s.name}"] .status`, { hasText: 'running' }).waitFor();
  await page.locator('.topics', { hasNotText: '…' }).waitFor();
  await page.screenshot({ path: `${docs}ui-overview.png`, fullPage: true });
  console.log(`wrote ${docs}ui-overview.png`);

  await page.goto(`${p.host.baseUrl}/api/ui/#/desired-state`);
  const card = page.locator('[data-service-card="dashboard"]');
  await card.locator('summary').click();
  await card.getByLabel('value of TITLE').fill('IoT platform (edited in the UI)');
  await page.getByRole('button', { name: 'Preview changes' }).click();
  await page.locator('[data-preview]').waitFor();
  // Tall enough for the preview and the edited service's environment, from the top of the page.
  await page.setViewportSize({ width: 1280, height: 1500 });
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: `${docs}ui-editor.png` });
  console.log(`wrote ${docs}ui-editor.png`);
} finally {
  await browser.close();
  await p.stop();
}
