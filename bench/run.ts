/**
 * Benchmark runner (`npm run bench`): imports every bench/*.bench.ts in alphabetical order and awaits
 * its default export `async (report) => void`. `report(name, value, unit)` prints one line.
 * Optional filter: `npm run bench -- host` runs only files whose name contains "host".
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export type Report = (name: string, value: number, unit: string) => void;
export type Bench = (report: Report) => Promise<void>;

const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();

let failed = 0;
for (const file of files) {
  const prefix = file.replace(/\.bench\.ts$/, '');
  const report: Report = (name, value, unit) => {
    const shown = Number.isInteger(value) ? String(value) : value.toPrecision(4);
    process.stdout.write(`${prefix}  ${name}  ${shown} ${unit}\n`);
  };
  try {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: Bench };
    if (typeof mod.default !== 'function') throw new Error('no default export async (report) => void');
    await mod.default(report);
  } catch (err) {
    failed += 1;
    process.stderr.write(`${file}: failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
}
if (failed > 0) process.exitCode = 1;
