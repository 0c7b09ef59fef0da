/** `deploy` starting the boot on a freshly published app: a 404 while the host indexes its functions is retried. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LcmApi } from '../../bootstrap-cli/api-client.js';
import { startAndFollowBoot } from '../../bootstrap-cli/azure/deploy.js';
import { loadTopology } from '../../functions/platform/load.js';
import { readFileSync } from 'node:fs';
import { EXAMPLE_TOPOLOGY } from '../helpers/topology.js';

describe('boot start during cold start', () => {
  let server: http.Server;
  let base = '';
  const seen: Array<{ method: string; url: string; status: number }> = [];
  let coldStarts = 2;

  beforeAll(async () => {
    // A stand-in of a Functions app that has just been deployed: 404 (functions not indexed yet), then the API.
    server = http.createServer((req, res) => {
      const answer = (status: number, body: unknown) => {
        seen.push({ method: req.method!, url: req.url!, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      req.resume();
      if (req.method === 'POST' && req.url === '/api/boot') {
        if (coldStarts-- > 0) return answer(404, '');
        return answer(202, { id: 'boot' });
      }
      if (req.method === 'GET' && req.url === '/api/operations/boot') return answer(200, { id: 'boot', runtimeStatus: 'Completed', output: { status: 'succeeded' }, customStatus: null });
      return answer(404, { error: 'no route' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('retries POST /api/boot after 404s and follows the operation it started', async () => {
    const lines: string[] = [];
    const topology = loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));
    const status = await startAndFollowBoot(new LcmApi(base, 'key'), topology, (l) => lines.push(l), 10);
    expect(status.runtimeStatus).toBe('Completed');
    expect(seen.filter((s) => s.url === '/api/boot').map((s) => s.status)).toEqual([404, 404, 202]);
    expect(lines).toContain('boot started: operation boot');
  });
});
