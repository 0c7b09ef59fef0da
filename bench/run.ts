/**
 * Benchmark runner (`npm run bench`): imports every bench/*.bench.ts in alphabetical order and awaits
 * its default export `async (report) => void`. `report(name, value, unit)` prints one line.
 * Optional filter: `npm run bench -- host` runs only files whose name contains "host".
 * After each bench, its figures are compared with the last run recorded with the same settings
 * (bench/baseline.ts); `LCM_BENCH_RECORD=1` records this run's instead.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { compareFigures, readBaselines, settingsKey, writeBaseline, type Figure } from './baseline.js';

export type Report = (name: string, value: number, unit: string) => void;
export type Bench = (report: Report) => Promise<void>;

const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();
const key = settingsKey(process.env);
const record = process.env.LCM_BENCH_RECORD === '1';

let failed = 0;
for (const file of files) {
  const prefix = file.replace(/\.bench\.ts$/, '');
  const figures: Record<string, Figure> = {};
  const report: Report = (name, value, unit) => {
    const shown = Number.isInteger(value) ? String(value) : value.toPrecision(4);
    process.stdout.write(`${prefix}  ${name}  ${shown} ${unit}\n`);
    figures[name] = { value, unit };
  };
  try {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: Bench };
    if (typeof mod.default !== 'function') throw new Error('no default export async (report) => void');
    await mod.default(report);
  } catch (err) {
    failed += 1;
    process.stderr.write(`${file}: failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    continue;
  }
  const baselineFile = path.join(dir, 'baselines', `${prefix}.json`);
  const before = readBaselines(baselineFile)[key];
  if (before) {
    process.stdout.write(`\n${prefix}: compared with the run recorded ${before.at} at ${before.commit} (load ${before.load.toFixed(1)}; now ${loadavg()[0]!.toFixed(1)}), settings ${key}:\n`);
    for (const line of compareFigures(figures, before)) process.stdout.write(`${prefix}  vs recorded  ${line}\n`);
  } else {
    process.stdout.write(`\n${prefix}: no run recorded with settings ${key} (LCM_BENCH_RECORD=1 records this one)\n`);
  }
  if (record && Object.keys(figures).length > 0) {
    writeBaseline(baselineFile, key, { at: new Date().toISOString(), commit: commitOf(), load: loadavg()[0]!, figures });
    process.stdout.write(`${prefix}: recorded as the baseline for settings ${key} (${path.relative(process.cwd(), baselineFile)})\n`);
  }
}
if (failed > 0) process.exitCode = 1;

function commitOf(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}
