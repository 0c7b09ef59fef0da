/**
 * The Cosmos endpoint over HTTPS with the run's generated certificate: trusted through the
 * client's agent (caCert), never through NODE_TLS_REJECT_UNAUTHORIZED.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateLocalTls, type LocalTls } from '../../../local/azure/tls.js';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { CentralDb, createCosmosClient } from '../../../functions/cloud/central-db.js';
import { hang } from '../../helpers/hang-guard.js';

let tls: LocalTls;
let emulator: CosmosEmulator;

beforeAll(async () => {
  tls = generateLocalTls();
  emulator = await startCosmosEmulator({ tls });
});
afterAll(async () => {
  await emulator?.stop();
});

it('serves https and works with a client that trusts the generated certificate', async () => {
  expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
  expect(emulator.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  const client = createCosmosClient({ endpoint: emulator.endpoint, key: emulator.key, caCert: tls.cert });
  try {
    const db = new CentralDb(client, { databaseId: 'lcm' });
    await db.ensureSchema();
    await db.upsertEntry('api', { kind: 'microservice', vm: 'vm-a', host: '127.0.0.2', port: 8000, status: 'running' }, undefined, {
      at: '2025-01-01T00:00:00.000Z',
    });
    expect((await db.getEntry('api'))?.status).toBe('running');
  } finally {
    client.dispose();
  }
});

it('is refused by a client that does not trust the certificate', async () => {
  const client = createCosmosClient({ endpoint: emulator.endpoint, key: emulator.key });
  try {
    const db = new CentralDb(client, { databaseId: 'lcm', maxAttempts: 1 });
    const error = await db.ensureSchema().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain(emulator.key);
    expect(String((error as Error).message) + String((error as { cause?: Error }).cause?.message)).toMatch(/certificate/i);
  } finally {
    client.dispose();
  }
}, hang(30_000));
