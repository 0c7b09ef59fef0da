/**
 * The data-flow line of `deploy --local`: asked of the app's /api/summary until readings flow, and
 * reported once the number of sensors seen has held (the first readings after a boot may be of one
 * sensor while the consumer group forms), or at the deadline with what is there.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dataFlowLine } from '../../bootstrap-cli/data-flow.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** An app whose summaries are `answers` in turn (the last one repeated). */
async function app(answers: object[]): Promise<{ service: string; kind: string; status: string; host: string; port: number }> {
  let i = 0;
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answers[Math.min(i++, answers.length - 1)]));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { service: 'dashboard', kind: 'app', status: 'running', host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

const sensors = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, k) => [`s${k}`, { value: k }]));

describe('the data-flow line', () => {
  it('waits until the sensors seen hold before reporting them', async () => {
    const entry = await app([
      { readingsLast10s: 0 },
      { readingsLast10s: 1, latest: sensors(1), anomalies: [] },
      { readingsLast10s: 4, latest: sensors(3), anomalies: [] },
      { readingsLast10s: 9, latest: sensors(3), anomalies: [{}] },
    ]);
    const line = await dataFlowLine([entry], { waitInMs: 20_000 });
    expect(line).toMatch(/^data flow: \d+ sensor readings went through Kafka in the last 10 s \(3 sensors, \d+ anomalies found\); live at http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(line).not.toMatch(/^data flow: 1 /);
  });

  it('reports what there is at the deadline, and nothing without an app that reports a flow', async () => {
    const entry = await app([{ readingsLast10s: 0 }]);
    expect(await dataFlowLine([entry], { waitInMs: 1_500 })).toMatch(/^data flow: 0 sensor readings .*\(0 sensors, 0 anomalies found\)/);
    expect(await dataFlowLine([{ ...entry, kind: 'microservice' }], { waitInMs: 500 })).toBeUndefined();
  });
});
