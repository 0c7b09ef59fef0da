/**
 * Read-only SAS URLs and the fetch script, run with the real bash and curl: what a VM does to get
 * a service's code straight from the share.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeShare, fetchScript } from '../../../functions/cloud/code-share.js';
import { execFileAsync, startFilesFixture, type FilesFixture } from './setup.js';

let fx: FilesFixture;
let code: CodeShare;
let source: string;

const HOSTILE_NAME = "it's a file $(touch pwned) `x`.txt";

beforeAll(async () => {
  fx = await startFilesFixture();
  code = new CodeShare(fx.service, 'service-code');
  await code.ensureShare();
  source = path.join(fx.tmp, 'src');
  await mkdir(path.join(source, 'lib', 'with space'), { recursive: true });
  await writeFile(path.join(source, 'Dockerfile'), 'FROM node:20-alpine\nCOPY . /app\n');
  await writeFile(path.join(source, HOSTILE_NAME), "quote ' and space\n");
  await writeFile(path.join(source, 'lib', 'with space', 'data.bin'), randomBytes(300_000));
  await writeFile(path.join(source, 'lib', 'empty.txt'), '');
  await code.uploadDirectory(source, 'svc/hostile');
});
afterAll(async () => fx?.close());

/** Every file below `root` with its bytes, keyed by relative path. */
async function tree(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else out.set(child, await readFile(path.join(root, child)));
    }
  };
  await walk('');
  return out;
}

async function runBash(script: string, cwd: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await execFileAsync('/bin/bash', ['-c', script], { cwd });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

describe('read-only SAS URLs and the fetch script', () => {
  it('gives one read-only URL per file, relative paths sorted', async () => {
    const urls = await code.readOnlySasUrls('svc/hostile', { expiresInMs: 60_000 });
    expect(urls.map((u) => u.path)).toEqual(['Dockerfile', HOSTILE_NAME, 'lib/empty.txt', 'lib/with space/data.bin']);
    for (const { url } of urls) {
      const q = new URL(url).searchParams;
      expect(q.get('sp')).toBe('r');
      expect(q.get('sr')).toBe('f');
      expect(Date.parse(q.get('se')!)).toBeGreaterThan(Date.now());
    }
  });

  it('the script, run by bash, reproduces the folder byte for byte in a hostile target dir', async () => {
    const urls = await code.readOnlySasUrls('svc/hostile', { expiresInMs: 60_000 });
    const work = path.join(fx.tmp, 'run1');
    await mkdir(work);
    const target = path.join(work, "target dir 'v1' $HOME");
    fx.emulator.log.reset();
    const result = await runBash(fetchScript(urls, target), work);
    expect(result).toEqual({ code: 0, stderr: '' });
    const [expected, actual] = await Promise.all([tree(source), tree(target)]);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [rel, bytes] of expected) expect(actual.get(rel)!.equals(bytes)).toBe(true);
    // Nothing in a file name or the target was executed.
    await expect(stat(path.join(work, 'pwned'))).rejects.toThrow();
    // Each file came straight from storage with its SAS.
    const downloads = fx.emulator.log.entries().filter((e) => e.kind === 'file.download');
    expect(downloads).toHaveLength(urls.length);
    expect(downloads.every((e) => e.auth === 'sas' && e.status === 200)).toBe(true);
  });

  it('stops at the first failing download (expired SAS) with a non-zero exit', async () => {
    const expired = await code.readOnlySasUrls('svc/hostile', { expiresInMs: 1 });
    await new Promise((r) => setTimeout(r, 1100)); // `se` has whole-second precision
    const fresh = await code.readOnlySasUrls('svc/hostile', { expiresInMs: 60_000 });
    const work = path.join(fx.tmp, 'run2');
    await mkdir(work);
    const target = path.join(work, 'out');
    const urls = [fresh[0]!, expired[1]!, fresh[2]!];
    const result = await runBash(fetchScript(urls, target), work);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/403/);
    expect([...(await tree(target)).keys()]).toEqual(['Dockerfile']); // the third never ran
  });

  it('refuses paths that would leave the target directory', () => {
    expect(() => fetchScript([{ path: '../etc/passwd', url: 'http://127.0.0.1/x' }], '/tmp/t')).toThrow(/not a relative file path/);
    expect(() => fetchScript([{ path: '/abs', url: 'http://127.0.0.1/x' }], '/tmp/t')).toThrow(/not a relative file path/);
    expect(() => fetchScript([{ path: 'ok', url: 'file:///etc/passwd' }], '/tmp/t')).toThrow(/not http/);
  });
});
