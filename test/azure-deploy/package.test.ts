/** The zip writer (checked by Python's zipfile, an independent reader) and the function app package. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctionPackage, productionClosure, REPO_ROOT, type FunctionPackage } from '../../bootstrap-cli/azure/package.js';
import { crc32, writeZip } from '../../bootstrap-cli/azure/zip.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lcm-package-test-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const unzip = (zip: string, dir: string) => execFileSync('python3', ['-m', 'zipfile', '-e', zip, dir]);

describe('zip writer', () => {
  it('writes stored and deflated entries that python3 -m zipfile extracts byte for byte', async () => {
    const big = Buffer.from('lifecycle '.repeat(10_000));
    const random = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251));
    const zip = join(work, 'a.zip');
    await writeZip(zip, [
      { name: 'small.txt', data: Buffer.from('hi') },
      { name: 'dir/big.txt', data: big },
      { name: 'dir/sub/bin.dat', data: random },
      { name: 'empty', data: Buffer.alloc(0) },
    ]);
    expect(statSync(zip).size).toBeLessThan(big.length); // the big file was deflated
    execFileSync('python3', ['-m', 'zipfile', '-t', zip]); // CRCs check out
    const out = join(work, 'a');
    unzip(zip, out);
    expect(readFileSync(join(out, 'small.txt'), 'utf8')).toBe('hi');
    expect(readFileSync(join(out, 'dir/big.txt')).equals(big)).toBe(true);
    expect(readFileSync(join(out, 'dir/sub/bin.dat')).equals(random)).toBe(true);
    expect(readFileSync(join(out, 'empty')).length).toBe(0);
  });

  it('is deterministic and computes the standard CRC-32', async () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const entries = [{ name: 'x', data: Buffer.from('x'.repeat(1000)) }];
    await writeZip(join(work, '1.zip'), entries);
    await writeZip(join(work, '2.zip'), entries);
    expect(readFileSync(join(work, '1.zip')).equals(readFileSync(join(work, '2.zip')))).toBe(true);
  });

  it('refuses entry names that escape the archive root', async () => {
    await expect(writeZip(join(work, 'bad.zip'), [{ name: '../evil', data: Buffer.from('x') }])).rejects.toThrow(/unsafe entry name/);
  });
});

describe('function app package', () => {
  let pkg: FunctionPackage;
  let out: string;
  beforeAll(async () => {
    pkg = await buildFunctionPackage({ stagingDir: join(work, 'staging') });
    out = join(work, 'unpacked');
    unzip(pkg.zipFile, out);
  }, 60_000);

  it('holds host.json, package.json, dist/functions/index.js and node_modules/durable-functions', () => {
    for (const f of ['host.json', 'package.json', 'dist/functions/index.js', 'node_modules/durable-functions/package.json', 'node_modules/@azure/functions/package.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const appPkg = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8'));
    expect(appPkg.main).toBe('dist/functions/index.js');
    expect(appPkg.type).toBe('module');
    expect(JSON.parse(readFileSync(join(out, 'host.json'), 'utf8')).functionTimeout).toBe('00:30:00');
  });

  it('holds the central UI the app serves: dist/www/index.html and the script and stylesheet it loads', () => {
    const html = readFileSync(join(out, 'dist/www/index.html'), 'utf8');
    const loaded = [...html.matchAll(/\/api\/ui\/(app-[0-9a-f]{12}\.(?:js|css))/g)].map((m) => m[1]!);
    expect(loaded.length).toBe(2);
    for (const f of loaded) expect(statSync(join(out, 'dist/www', f)).size, f).toBeGreaterThan(100);
    // Built, not shipped as sources: no .tsx and no Preact package in the app.
    expect(existsSync(join(out, 'node_modules', 'preact')), 'preact is bundled, not a dependency').toBe(false);
  });

  it('holds production dependencies only: no dev tools, no Core Tools, no source maps', () => {
    for (const dev of ['vitest', 'typescript', 'tsx', 'better-sqlite3', '@vercel/cosmosdb-server', 'azure-functions-core-tools']) {
      expect(existsSync(join(out, 'node_modules', dev)), dev).toBe(false);
    }
    const closure = productionClosure(REPO_ROOT);
    expect(closure).toContain('node_modules/durable-functions');
    expect(closure).toContain('node_modules/ssh2');
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', pkg.zipFile], { maxBuffer: 64 * 1024 * 1024 }).toString();
    expect(listing).not.toMatch(/\.js\.map\s/);
    expect(listing).not.toMatch(/^bootstrap-cli\/|^local\//m);
  });

  it('is reused when the sources did not change', async () => {
    const again = await buildFunctionPackage({ stagingDir: join(work, 'staging') });
    expect(again.reused).toBe(true);
    expect(again.sha256).toBe(pkg.sha256);
  });
});
