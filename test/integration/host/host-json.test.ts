import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hostJsonActivityLimit, hostJsonQueuePollingMs } from '../../../local/host/index.js';
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

  it('gives the longest wait between empty queue polls (storageProvider.maxQueuePollingInterval), undefined when unset', () => {
    const app = tempDir('lcm-hostjson-');
    writeFileSync(join(app, 'host.json'), JSON.stringify({ version: '2.0', extensions: { durableTask: { storageProvider: { maxQueuePollingInterval: '00:00:05' } } } }));
    expect(hostJsonQueuePollingMs(join(app, 'index.js'))).toBe(5_000);
    const unset = tempDir('lcm-hostjson-');
    writeFileSync(join(unset, 'host.json'), JSON.stringify({ version: '2.0', extensions: { durableTask: {} } }));
    expect(hostJsonQueuePollingMs(join(unset, 'index.js'))).toBeUndefined();
  });

  it('refuses a polling interval that is not a time span, naming the file and the setting', () => {
    const app = tempDir('lcm-hostjson-');
    const file = join(app, 'host.json');
    writeFileSync(file, JSON.stringify({ version: '2.0', extensions: { durableTask: { storageProvider: { maxQueuePollingInterval: '2s' } } } }));
    expect(() => hostJsonQueuePollingMs(join(app, 'index.js'))).toThrow(`${file}: extensions.durableTask.storageProvider.maxQueuePollingInterval "2s" is not a time span like "00:00:02" (hh:mm:ss)`);
  });

  it('the LCM polls its idle queues every 2 s at most (the extension\'s 30 s would delay a message up to 30 s after a quiet stretch)', () => {
    expect(hostJsonQueuePollingMs(new URL('../../../functions/index.ts', import.meta.url).pathname)).toBe(2_000);
  });
});
