/**
 * The local Cosmos DB endpoint authorizes as the service does, proven with the real @azure/cosmos
 * SDK: master-key signatures (right key, fresh date) or Entra tokens for the account's audience,
 * and with local auth disabled (the template's disableLocalAuth) Entra tokens only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { createCosmosClient } from '../../../functions/cloud/central-db.js';
import { startCosmosEmulator, type CosmosEmulator } from '../../../local/azure/cosmos.js';
import { startLocalIdentity, type LocalIdentity } from '../../../local/azure/identity.js';
import { generateLocalTls, type LocalTls } from '../../../local/azure/tls.js';

const USER = '11111111-2222-3333-4444-555555555555';
const APP = '66666666-7777-8888-9999-000000000000';

let identity: LocalIdentity;
let other: LocalIdentity;
let keyed: CosmosEmulator;
let entraOnly: CosmosEmulator;
let skewMs = 0;
// Entra tokens travel over TLS only (the SDK refuses bearer tokens on http), as on Azure.
let tls: LocalTls;

beforeAll(async () => {
  identity = await startLocalIdentity();
  other = await startLocalIdentity();
  tls = generateLocalTls();
  keyed = await startCosmosEmulator({ tls, identity, now: () => Date.now() + skewMs });
  entraOnly = await startCosmosEmulator({ tls, identity, localAuthDisabled: true });
});
afterAll(async () => {
  await keyed?.stop();
  await entraOnly?.stop();
  await identity?.stop();
  await other?.stop();
});

/** What the SDK surfaces for a refused request: status, substatus and the service's message. */
async function refusal(work: Promise<unknown>): Promise<{ code: number; substatus?: number; message: string }> {
  const err = (await work.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; substatus?: number; message: string } | undefined;
  expect(err, 'the request was accepted').toBeDefined();
  return { code: err!.code, substatus: err!.substatus, message: err!.message };
}

const listDatabases = (endpoint: string, auth: { key?: string; credential?: TokenCredential }) => {
  const client = createCosmosClient({ endpoint, caCert: tls.cert, ...auth });
  return client.databases
    .readAll()
    .fetchAll()
    .finally(() => client.dispose());
};

describe('master-key requests (local auth on)', () => {
  it('the account key signs every request the SDK makes (create, write, read, query)', async () => {
    const client = createCosmosClient({ endpoint: keyed.endpoint, key: keyed.key, caCert: tls.cert });
    try {
      const { database } = await client.databases.createIfNotExists({ id: 'auth' });
      const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: '/pk' });
      await container.items.upsert({ id: 'a', pk: 'p' });
      expect((await container.item('a', 'p').read()).resource?.id).toBe('a');
      expect((await container.items.query('SELECT * FROM c').fetchAll()).resources).toHaveLength(1);
    } finally {
      client.dispose();
    }
  });

  it('a signature made with another key is refused with 401 and the payload the server signed', async () => {
    const err = await refusal(listDatabases(keyed.endpoint, { key: randomBytes(64).toString('base64') }));
    expect(err.code).toBe(401);
    expect(err.message).toMatch(/The input authorization token can't serve the request/);
    expect(err.message).toMatch(/get\\ndbs\\n/);
  });

  it('a date older than 15 minutes is refused with 403 naming the token window and the server time', async () => {
    skewMs = 16 * 60 * 1000;
    try {
      const err = await refusal(listDatabases(keyed.endpoint, { key: keyed.key }));
      expect(err.code).toBe(403);
      expect(err.message).toMatch(/The authorization token is not valid at the current time\. .*token start time: .*token expiry time: .*current server time: /);
    } finally {
      skewMs = 0;
    }
    // Within the window the same key works again.
    await expect(listDatabases(keyed.endpoint, { key: keyed.key })).resolves.toBeDefined();
  });
});

describe('local auth disabled: Entra tokens only', () => {
  it('refuses the account key with the service answer (401, substatus 5202)', async () => {
    const err = await refusal(listDatabases(entraOnly.endpoint, { key: entraOnly.key }));
    expect(err.code).toBe(401);
    expect(err.substatus).toBe(5202);
    expect(err.message).toMatch(/Local Authorization is disabled\. Use an AAD token to authorize all requests\./);
  });

  it('refuses to create a database or a container with an Entra token (control plane: 403, substatus 5300)', async () => {
    const client = createCosmosClient({ endpoint: entraOnly.endpoint, credential: identity.credential(USER), caCert: tls.cert });
    try {
      const db = await refusal(client.databases.create({ id: 'made-by-token' }));
      expect(db.code).toBe(403);
      expect(db.substatus).toBe(5300);
      expect(db.message).toContain('Request blocked by Auth lcm-local : The given request [POST /dbs] cannot be authorized by AAD token in data plane.');
      await entraOnly.provision({ database: 'lcm', containers: [] });
      const coll = await refusal(client.database('lcm').containers.create({ id: 'made-by-token', partitionKey: { paths: ['/pk'] } }));
      expect([coll.code, coll.substatus]).toEqual([403, 5300]);
      expect(coll.message).toContain('[POST /dbs/lcm/colls]');
    } finally {
      client.dispose();
    }
  });

  it('accepts a token the local identity issued for the account: reads and writes items of what the control plane created', async () => {
    await entraOnly.provision({ database: 'lcm', containers: [{ id: 'desired', partitionKey: '/kind' }] });
    const client = createCosmosClient({ endpoint: entraOnly.endpoint, credential: identity.credential(USER), caCert: tls.cert });
    try {
      // createIfNotExists only reads when the database and container exist (what ensureSchema does on Azure).
      const { database } = await client.databases.createIfNotExists({ id: 'lcm' });
      const { container } = await database.containers.createIfNotExists({ id: 'desired', partitionKey: '/kind' });
      await container.items.upsert({ id: 'topology', kind: 'topology' });
      expect((await container.item('topology', 'topology').read()).resource?.id).toBe('topology');
      expect((await container.items.query('SELECT * FROM c').fetchAll()).resources).toHaveLength(1);
      await container.item('topology', 'topology').delete();
    } finally {
      client.dispose();
    }
  });

  it('accepts a token for https://cosmos.azure.com too', async () => {
    const credential: TokenCredential = { getToken: async () => identity.issue(USER, 'https://cosmos.azure.com') };
    await expect(listDatabases(entraOnly.endpoint, { credential })).resolves.toBeDefined();
  });

  it('refuses a token for another audience (ARM) with 401, substatus 5008, naming the audiences it accepts', async () => {
    const credential: TokenCredential = { getToken: async () => identity.issue(USER, 'https://management.azure.com') };
    const err = await refusal(listDatabases(entraOnly.endpoint, { credential }));
    expect(err.code).toBe(401);
    expect(err.substatus).toBe(5008);
    expect(err.message).toContain(`Provided AAD token is intended for [https://management.azure.com]. This database account accepts tokens intended for [${new URL(entraOnly.endpoint).origin}, https://cosmos.azure.com].`);
  });

  it('refuses a token another issuer signed, an expired token and a string that is no token', async () => {
    for (const [what, token] of [
      ['another issuer', other.issue(USER, new URL(entraOnly.endpoint).origin)],
      ['expired', identity.issue(USER, new URL(entraOnly.endpoint).origin, { lifetimeSeconds: -10 })],
      ['not a JWT', { token: 'local-arm-emulator-token', expiresOnTimestamp: Date.now() + 3_600_000 }],
    ] as const) {
      const credential: TokenCredential = { getToken: async () => token };
      const err = await refusal(listDatabases(entraOnly.endpoint, { credential }));
      expect(err.code, what).toBe(401);
      expect(err.message, what).toMatch(/The AAD token could not be validated/);
    }
  });

  it("a function app's managed identity gets its token from the identity endpoint through DefaultAzureCredential", async () => {
    const names = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;
    const saved = names.map((n) => process.env[n]);
    Object.assign(process.env, identity.managedIdentitySettings(APP));
    try {
      await expect(listDatabases(entraOnly.endpoint, { credential: new DefaultAzureCredential() })).resolves.toBeDefined();
    } finally {
      names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i])));
    }
  });

  it('the identity endpoint refuses a caller without the identity header', async () => {
    const { IDENTITY_ENDPOINT } = identity.managedIdentitySettings(APP);
    const res = await fetch(`${IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=https://cosmos.azure.com`);
    expect(res.status).toBe(401);
  });
});
