/**
 * The example monitoring service on its own: a real process probing a registry served by a stand-in
 * of the LCM API (the API's own behaviour is tested end to end elsewhere). It asks for a restart
 * after the configured failed probes, backs off when told 409, and logs what it did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/platform.js';
import { until } from '../helpers/self-healing.js';
import { hang } from '../helpers/hang-guard.js';

const SERVER = new URL('../../examples/iot-platform/services/monitoring/server.js', import.meta.url).pathname;

let api: Server;
let monitoring: ChildProcess;
let monitoringPort: number;
const restartCalls: Array<{ at: number; key?: string; body: any; answered: number }> = [];
let answers = [409, 409, 202];

beforeAll(async () => {
  const deadPort = await freePort(); // nothing listens there: the service is down
  api = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.headers['x-functions-key'] !== 'monitor-key') return res.writeHead(401).end('{}');
      if (req.url === '/api/registry') {
        return res.end(JSON.stringify([
          { service: 'api', kind: 'microservice', vm: 'vm-a', host: '127.0.0.1', port: deadPort, status: 'running' },
          { service: 'kafka', kind: 'broker', vm: 'vm-a', host: '127.0.0.1', port: deadPort, status: 'running' },
        ]));
      }
      if (req.url === '/api/services/api/restart' && req.method === 'POST') {
        const answered = answers.shift() ?? 202;
        restartCalls.push({ at: Date.now(), key: req.headers['x-functions-key'] as string, body: JSON.parse(body), answered });
        return res.writeHead(answered).end(JSON.stringify(answered === 409 ? { error: 'already running' } : { id: 'restart-svc-api' }));
      }
      res.writeHead(404).end('{}');
    });
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  monitoringPort = await freePort();
  monitoring = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH,
      PORT: String(monitoringPort),
      HOST: '127.0.0.1',
      LCM_API_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
      LCM_API_KEY: 'monitor-key',
      PROBE_INTERVAL_MS: '100',
      FAILURES_BEFORE_RESTART: '3',
    },
    stdio: 'ignore',
  });
});

afterAll(async () => {
  monitoring?.kill('SIGKILL');
  await new Promise((r) => api?.close(r));
});

describe('the example monitoring service', () => {
  it('asks the LCM to restart a service after the configured failed probes, backing off on 409', async () => {
    await until('a restart request to be accepted', async () => restartCalls.some((c) => c.answered === 202), 30_000);
    expect(restartCalls.map((c) => c.answered).slice(0, 3)).toEqual([409, 409, 202]);
    expect(restartCalls[0]!.key).toBe('monitor-key');
    expect(restartCalls[0]!.body).toMatchObject({ requestedBy: 'monitoring', reason: expect.stringMatching(/failed \d+ health probes in a row/) });
    // After each 409 it holds back longer before asking again: the back-off doubles.
    const status0: any = await (await fetch(`http://127.0.0.1:${monitoringPort}/status`)).json();
    const waits = (status0.actions as string[]).flatMap((l) => /asking again in (\d+) ms/.exec(l)?.[1] ?? []).map(Number);
    expect(waits).toEqual([100, 200]);
    expect(restartCalls[2]!.at - restartCalls[1]!.at).toBeGreaterThanOrEqual(200);
    // Kafka (a broker) is not an HTTP service: never asked to restart.
    const status: any = await (await fetch(`http://127.0.0.1:${monitoringPort}/status`)).json();
    expect(Object.keys(status.services)).toEqual(['api']);
    expect(status.actions.join('\n')).toMatch(/restart of api refused \(409[^)]*\); asking again in \d+ ms/);
    expect(status.actions.join('\n')).toMatch(/restart of api requested \(\d+ failed probes\)/);
  }, hang(60_000));

  it('answers its own health check', async () => {
    const res = await fetch(`http://127.0.0.1:${monitoringPort}/health`);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'monitoring' });
  });
});
