/**
 * The figures a bench run is compared with: the last run recorded with the same settings
 * (`LCM_BENCH_*`), kept in `bench/baselines/<bench>.json` beside the commit and the machine's
 * load they were measured at. `LCM_BENCH_RECORD=1` records a run's figures as the new baseline
 * for its settings. A ratio compares two runs, not two commits: the same commit varies run to run
 * (the README says by how much), so a change is judged over alternated runs, not one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Figure {
  value: number;
  unit: string;
}

export interface Recorded {
  /** When, at which commit, and with what load average the figures were measured. */
  at: string;
  commit: string;
  load: number;
  figures: Record<string, Figure>;
}

/** One baseline file: a record per settings key. */
export type BaselineFile = Record<string, Recorded>;

/** The run's settings, as one key: every `LCM_BENCH_*` variable but the recording switch, sorted. */
export function settingsKey(env: NodeJS.ProcessEnv): string {
  const vars = Object.entries(env)
    .filter(([k, v]) => k.startsWith('LCM_BENCH_') && k !== 'LCM_BENCH_RECORD' && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return vars.length ? vars.join(' ') : 'defaults';
}

/** Lines comparing this run's figures with a recorded run's: those both have, in this run's order, with the same unit. */
export function compareFigures(now: Record<string, Figure>, before: Recorded): string[] {
  const lines: string[] = [];
  for (const [name, f] of Object.entries(now)) {
    const b = before.figures[name];
    if (!b || b.unit !== f.unit) continue;
    const ratio = b.value === 0 ? (f.value === 0 ? '1.00×' : 'new') : `${(f.value / b.value).toFixed(2)}×`;
    lines.push(`${name}  ${show(f.value)} ${f.unit}, was ${show(b.value)} (${ratio})`);
  }
  return lines;
}

const show = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

export function readBaselines(file: string): BaselineFile {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BaselineFile;
  } catch (e) {
    throw new Error(`${file}: not a baseline file (${(e as Error).message}); remove it or fix it`);
  }
}

export function writeBaseline(file: string, key: string, record: Recorded): void {
  const all = readBaselines(file);
  all[key] = record;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
}
