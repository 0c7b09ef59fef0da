/** shellQuote round-trips any string through the real bash as exactly one word. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellCommand, shellQuote } from '../../../functions/cloud/shell.js';

const run = promisify(execFile);

/** Each value, quoted, as its own argument of printf; bash prints them NUL-separated. */
async function throughBash(values: string[], cwd: string): Promise<string[]> {
  const script = `printf '%s\\0' ${values.map(shellQuote).join(' ')}`;
  const { stdout } = await run('/bin/bash', ['-c', script], { cwd, encoding: 'buffer', env: { PATH: process.env.PATH, LC_ALL: 'C' }, maxBuffer: 64 << 20 });
  const parts = stdout.toString('utf8').split('\0');
  parts.pop(); // after the last separator
  return parts;
}

const HOSTILE = [
  '',
  "'",
  "''",
  "it's",
  "'; touch pwned; echo '",
  '$(touch pwned)',
  '`touch pwned`',
  '${HOME}',
  '$HOME',
  '"; touch pwned; "',
  '\\',
  "\\'",
  'a\nb\n',
  '\t tab and  spaces ',
  '*',
  '?',
  '[a-z]*',
  '~',
  '!!',
  '-n',
  '--',
  '> out.txt',
  '| cat',
  '& sleep 1 &',
  '#comment',
  'ünïcødé ✓ 🚀',
  "'\\''",
];

describe('shellQuote', () => {
  it('round-trips hostile strings through bash as single words and executes nothing', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'lcm-shell-'));
    try {
      expect(await throughBash(HOSTILE, cwd)).toEqual(HOSTILE);
      expect(await readdir(cwd)).toEqual([]); // no `pwned`, no `out.txt`
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('round-trips arbitrary strings (property)', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'lcm-shell-'));
    try {
      const valid = (s: string) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s;
      const samples = fc.sample(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom("'", '"', '\\', '$', '`', ' ', '\n', '!', '*', 'a'), maxLength: 20 })).filter(valid),
        { numRuns: 400, seed: 42 },
      );
      expect(await throughBash(samples, cwd)).toEqual(samples);
      expect(await readdir(cwd)).toEqual([]);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('refuses NUL, which no shell argument can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('shellCommand quotes every word', () => {
    expect(shellCommand(['mkdir', '-p', "a b'c"])).toBe(`'mkdir' '-p' 'a b'\\''c'`);
  });
});
