import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hostJsonActivityLimit } from '../../../local/host/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('host.json', () => {
  it("gives the activity limit of the app an entry belongs to, like func", () => {
    const app = tempDir('lcm-hostjson-');
    writeFileSync(join(app, 'host.json'), JSON.stringify({ version: '2.0', extensions: { durableTask: { maxConcurrentActivityFunctions: 7 } } }));
    mkdirSync(join(app, 'dist', 'functions'), { recursive: true });
    const entry = join(app, 'dist', 'functions', 'index.js');
    expect(hostJsonActivityLimit(entry)).toBe(7);
    expect(hostJsonActivityLimit(pathToFileURL(entry).href)).toBe(7);
  });

  it("is undefined when the app's host.json sets none", () => {
    const app = tempDir('lcm-hostjson-');
    writeFileSync(join(app, 'host.json'), JSON.stringify({ version: '2.0' }));
    expect(hostJsonActivityLimit(join(app, 'index.js'))).toBeUndefined();
  });

  it('the LCM allows 64 activities at once: they mostly wait on SSH and ARM', () => {
    expect(hostJsonActivityLimit(new URL('../../../functions/index.ts', import.meta.url).pathname)).toBe(64);
  });
});
