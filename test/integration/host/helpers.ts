/** Shared setup for the local host tests: the fixture app on a random port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../../local/host/index.js';

export const FIXTURE_ENTRY = new URL('../../fixtures/host-app/index.ts', import.meta.url).pathname;
export const FUNCTION_KEY = 'test-function-key';
export const SYSTEM_KEY = 'test-system-key';

export interface TestHost extends LocalHost {
  logs: string[];
  /** fetch relative to baseUrl, with the function key unless `key: null`. */
  call(pathAndQuery: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
}

export async function startFixtureHost(opts: Partial<LocalHostOptions> = {}): Promise<TestHost> {
  const logs: string[] = [];
  const host = await startLocalHost({
    entry: FIXTURE_ENTRY,
    port: 0,
    storeFile: ':memory:',
    functionKeys: [FUNCTION_KEY],
    systemKey: SYSTEM_KEY,
    log: (line) => logs.push(line),
    ...opts,
  });
  return Object.assign(host, {
    logs,
    call: (pathAndQuery: string, init: RequestInit & { key?: string | null } = {}) => {
      const { key = FUNCTION_KEY, headers, ...rest } = init;
      const h = new Headers(headers);
      if (key !== null) h.set('x-functions-key', key);
      return fetch(host.baseUrl + pathAndQuery, { ...rest, headers: h });
    },
  });
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
