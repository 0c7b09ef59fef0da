/** The bench's comparison with a recorded run (bench/baseline.ts): same settings, same figures, same units. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareFigures, readBaselines, settingsKey, writeBaseline, type Recorded } from '../../bench/baseline.js';

const recorded: Recorded = {
  at: '2026-12-02T18:00:00.000Z',
  commit: 'abc1234',
  load: 3,
  figures: { 'second boot: wall / that limit': { value: 1.4, unit: 'x' }, 'second boot: wall time': { value: 0.8, unit: 's' }, 'errors': { value: 0, unit: 'requests' } },
};

describe('bench baselines', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lcm-bench-baseline-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keys a run by its LCM_BENCH_* settings, sorted, without the recording switch', () => {
    expect(settingsKey({ LCM_BENCH_BOOT_VMS: '4', LCM_BENCH_BOOT_SERVICES: '16', LCM_BENCH_RECORD: '1', PATH: '/bin' })).toBe('LCM_BENCH_BOOT_SERVICES=16 LCM_BENCH_BOOT_VMS=4');
    expect(settingsKey({ PATH: '/bin', LCM_BENCH_WORKERS: '' })).toBe('defaults');
  });

  it('compares the figures both runs have, with the same unit, as ratios', () => {
    const lines = compareFigures(
      { 'second boot: wall time': { value: 0.6, unit: 's' }, 'second boot: wall / that limit': { value: 1.2, unit: 'ratio' }, 'errors': { value: 2, unit: 'requests' }, 'only now': { value: 1, unit: 's' } },
      recorded,
    );
    expect(lines).toEqual(['second boot: wall time  0.6000 s, was 0.8000 (0.75×)', 'errors  2 requests, was 0 (new)']);
  });

  it('writes a record per settings key and reads it back; refuses a file that is not one, naming it', () => {
    const file = path.join(dir, 'baselines', 'boot.json');
    expect(readBaselines(file)).toEqual({});
    writeBaseline(file, 'defaults', recorded);
    writeBaseline(file, 'LCM_BENCH_BOOT_VMS=4', { ...recorded, commit: 'def5678' });
    expect(Object.keys(readBaselines(file))).toEqual(['defaults', 'LCM_BENCH_BOOT_VMS=4']);
    expect(readBaselines(file)['defaults']).toEqual(recorded);
    const broken = path.join(dir, 'broken.json');
    writeBaseline(broken, 'x', recorded);
    writeFileSync(broken, '{ not json');
    expect(() => readBaselines(broken)).toThrow(new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a baseline file`));
  });
});
