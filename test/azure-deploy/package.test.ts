/** The zip writer (checked by Python's zipfile, an independent reader) and the function app package. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctionPackage, productionClosure, REPO_ROOT, type FunctionPackage } from '../../bootstrap-cli/azure/package.js';
import { writeZip } from '../../bootstrap-cli/azure/zip.js';
import { readZip } from '../../local/azure/arm/unzip.js';
import { hang } from '../helpers/hang-guard.js';

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

  it('is deterministic: the same entries give the same bytes, whenever they are written', async () => {
    const entries = [
      { name: 'x', data: Buffer.from('x'.repeat(1000)) },
      { name: 'bin/run', data: Buffer.from('#!/bin/sh\necho run\n'), mode: 0o755 },
      { name: 'tiny', data: Buffer.from('t') },
    ];
    await writeZip(join(work, '1.zip'), entries);
    await new Promise((r) => setTimeout(r, 1100)); // a later second: the timestamp is fixed, not now
    await writeZip(join(work, '2.zip'), entries);
    expect(readFileSync(join(work, '1.zip')).equals(readFileSync(join(work, '2.zip')))).toBe(true);
    const different = [{ ...entries[0]!, data: Buffer.from('y'.repeat(1000)) }, ...entries.slice(1)];
    await writeZip(join(work, '3.zip'), different);
    expect(readFileSync(join(work, '3.zip')).equals(readFileSync(join(work, '1.zip')))).toBe(false);
  });

  it("the emulator's reader gets back names, bytes and Unix modes, and refuses a corrupted entry", async () => {
    const entries = [
      { name: 'dir/run.sh', data: Buffer.from('#!/bin/sh\n'.repeat(20)), mode: 0o755 },
      { name: 'readme', data: Buffer.from('r') },
    ];
    await writeZip(join(work, 'r.zip'), entries);
    const zip = readFileSync(join(work, 'r.zip'));
    const read = await readZip(zip);
    expect(read.map((e) => [e.name, e.data.toString(), e.mode])).toEqual([
      ['dir/run.sh', '#!/bin/sh\n'.repeat(20), 0o755],
      ['readme', 'r', 0o644],
    ]);
    // Flip a byte of the stored entry's data: its CRC-32 no longer matches.
    const corrupt = Buffer.from(zip);
    const at = corrupt.indexOf(Buffer.from('readme')) + 'readme'.length;
    corrupt[at] = corrupt[at]! ^ 0xff;
    await expect(readZip(corrupt)).rejects.toThrow(/invalid zip package: "readme" fails its CRC-32 check/);
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
    // tsc over the whole app, the UI bundle and the production install: minutes on a busy machine.
  }, hang(300_000));

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
