/**
 * The central UI: its bundle (minified and gzip sizes, build time) and the page's time to first
 * render in headless Chromium on the one local stack (the example platform seeded, not booted:
 * the overview lists the same services either way). Medians of several fresh browser contexts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildUi } from '../ui/build.js';
import { launchChromium } from '../test/helpers/browser.js';
import { startTestPlatform } from '../test/helpers/platform.js';
import type { Report } from './run.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function uiBench(report: Report): Promise<void> {
  const out = mkdtempSync(path.join(tmpdir(), 'lcm-bench-ui-'));
  try {
    const built = await buildUi({ outDir: out });
    report('bundle build (esbuild, cold process)', built.tookInMs, 'ms');
    for (const f of built.files) {
      const data = readFileSync(path.join(out, f.name));
      const kind = f.name.endsWith('.js') ? 'script' : f.name.endsWith('.css') ? 'stylesheet' : 'page';
      report(`${kind} size, minified / gzip`, f.bytes / 1024, `KiB / ${(gzipSync(data).length / 1024).toFixed(1)} KiB gzip`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  const runs = Number(process.env.LCM_BENCH_UI_RUNS || 5);
  const t0 = performance.now();
  const [p, browser] = await Promise.all([startTestPlatform(), launchChromium()]);
  report('local stack and Chromium started', performance.now() - t0, 'ms');
  try {
    const services = p.topology.services.length;
    const fcp: number[] = [];
    const signInShown: number[] = [];
    const overview: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const start = performance.now();
      await page.goto(`${p.host.baseUrl}/api/ui/`);
      await page.getByLabel('Operator key').waitFor();
      signInShown.push(performance.now() - start);
      fcp.push(Number(await page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN")));
      await page.getByLabel('Operator key').fill(p.key);
      const submitted = performance.now();
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('tr[data-service]').nth(services - 1).waitFor();
      overview.push(performance.now() - submitted);
      await context.close();
    }
    report(`first contentful paint of the sign-in page (median of ${runs})`, median(fcp), 'ms');
    report(`navigation to the sign-in form shown (median of ${runs})`, median(signInShown), 'ms');
    report(`sign-in to the overview listing all ${services} services (key check + 3 API reads; median of ${runs})`, median(overview), 'ms');
  } finally {
    await browser.close();
    await p.stop();
  }
}
