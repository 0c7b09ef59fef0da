/**
 * The ARM emulator against the REST specs for the calls bootstrap-cli makes to deploy the LCM:
 * template deployments (Microsoft.Resources), the function app (Microsoft.Web sites), Key Vault
 * secrets through the management plane, and the storage account's keys. Each fixture
 * (test/contract/fixtures/platform, from the specs' x-ms-examples, pinned) is at the api-version
 * bootstrap-cli sends (bootstrap-cli/azure/infra.ts API); the emulator's answers must have a status
 * the example lists, the LRO headers ARM sends (Retry-After as recorded, at scale 1), and the
 * example's properties with its JSON types. A secret's value and a secure parameter never come back.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../bootstrap-cli/azure/infra.js';
import { LoopbackPool } from '../../local/azure/addresses.js';
import { ARM_LRO_RETRY_AFTER, startArmEmulator, type ArmEmulator } from '../../local/azure/arm/index.js';
import { generateLocalTls, type LocalTls } from '../../local/azure/tls.js';
import { RecordingHooks } from '../integration/arm/harness.js';
import { rawArm, type Answer } from './raw-arm.js';
import { cloudErrorProblems, fixtureNames, loadFixture, shapeDifferences, substitute } from './spec.js';

const SUB = '00000000-0000-0000-0000-0000000000d8';
const RG = 'rg-platform';
const STORAGE = 'stplatform';
const NAMES: Record<string, string> = {
  '{subscription-id}': SUB,
  '00000000-0000-0000-0000-000000000000': SUB,
  '00000000-0000-0000-0000-000000000001': SUB,
  '34adfa4f-cedf-4dc0-ba29-b6d1a69ab345': SUB,
  'my-resource-group': RG,
  'sample-group': RG,
  res418: RG,
  testrg123: RG,
  'my-deployment': 'lcm-platform',
  'sample-vault': 'kv-platform',
  'secret-name': 'secret-platform',
  sto2220: STORAGE,
  sitef6141: 'app-platform',
};

/** The api-version bootstrap-cli sends to each provider of these fixtures. */
const CLI_API_VERSION: Record<string, string> = { resources: API.deployment, keyvault: API.keyVault, storage: API.storage, web: API.web };

describe('the ARM emulator holds to the REST specs for bootstrap-cli deploy (x-ms-examples)', () => {
  let tls: LocalTls;
  let arm: ArmEmulator;
  let agent: https.Agent;
  const seen = new Set<string>();

  const call = rawArm(() => arm.endpoint, () => agent);

  /** Sends the fixture's request; checks the CLI's api-version, the status, the shape and (LRO) the headers, then waits it out. */
  async function exercise(name: string, expectedStatus: number): Promise<Answer> {
    const f = loadFixture(`platform/${name}`);
    seen.add(`platform/${name}`);
    expect(f.apiVersion, `${f.operationId}: the api-version bootstrap-cli sends`).toBe(CLI_API_VERSION[name.split('.')[0]!]);
    const path = substitute(f.path, NAMES);
    const answer = await call(f.method, path, f.apiVersion, f.request === undefined ? undefined : substitute(f.request, NAMES));
    expect(answer.status, `${f.operationId}: ${JSON.stringify(answer.body)}`).toBe(expectedStatus);
    expect(f.statuses, `${f.operationId}: a status the spec lists`).toContain(answer.status);
    const example = substitute(f.responses[String(answer.status)], NAMES);
    expect(shapeDifferences(example, answer.body, f.check[String(answer.status)] ?? []), `${f.operationId} ${answer.status}`).toEqual([]);
    if (f.lro && f.lro.status === answer.status) {
      const pollUrl = answer.headers['azure-asyncoperation'];
      expect(() => new URL(pollUrl!), `${f.operationId}: Azure-AsyncOperation is a URL`).not.toThrow();
      const recorded = ARM_LRO_RETRY_AFTER['microsoft.resources']!;
      expect(answer.headers['retry-after'], `${f.operationId}: Retry-After as ARM sends it`).toBe(String(recorded.initial));
      for (let i = 0; ; i++) {
        const poll = await call('GET', pollUrl!);
        expect(poll.status).toBe(200);
        if (poll.body.status !== 'InProgress') {
          expect(poll.body.status, `${f.operationId}: ${JSON.stringify(poll.body)}`).toBe('Succeeded');
          break;
        }
        expect(poll.headers['retry-after'], `${f.operationId}: a running poll's Retry-After`).toBe(String(recorded.poll));
        if (i > 500) throw new Error(`${f.operationId}: never ended`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } else {
      expect(answer.headers['azure-asyncoperation'], `${f.operationId}: synchronous`).toBeUndefined();
    }
    return answer;
  }

  beforeAll(async () => {
    tls = generateLocalTls();
    arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks: new RecordingHooks(), retryAfterScale: 1 });
    // The template's storage account must be the one the local File endpoint serves; listKeys hands out its key.
    arm.bindLocalServices({ storage: { accountName: STORAGE, accountKey: Buffer.from('contract-key').toString('base64'), fileEndpoint: 'https://127.0.0.1:9/' } });
    agent = new https.Agent({ ca: tls.cert, keepAlive: true });
    expect((await call('PUT', `/subscriptions/${SUB}/resourceGroups/${RG}`, API.resourceGroup, { location: 'westus' })).status).toBe(201);
  });
  afterAll(async () => {
    agent?.destroy();
    await arm?.stop();
  });

  it('Deployments_CreateOrUpdate then _Get: 201 with Azure-AsyncOperation and Retry-After, then Succeeded; a secure parameter is never echoed', async () => {
    await exercise('resources.deployment-create', 201);
    const got = await exercise('resources.deployment-get', 200);
    expect(got.body.properties.parameters).toEqual({ vaultName: { type: 'String', value: 'kv-platform' }, adminSecret: { type: 'SecureString' } });
    expect(JSON.stringify(got.body)).not.toContain('not-echoed');
  });

  it('WebApps_Get: the site the deployment created, and a missing site is a 404 CloudError', async () => {
    await exercise('web.site-get', 200);
    const missing = await call('GET', `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Web/sites/app-missing`, API.web);
    expect(missing.status).toBe(404);
    expect(cloudErrorProblems(missing.body)).toEqual([]);
  });

  it('Secrets_CreateOrUpdate (201 new, 200 again, a new version) and Secrets_Get: never the value', async () => {
    const created = await exercise('keyvault.secret-create', 201);
    const again = await exercise('keyvault.secret-create', 200);
    expect(again.body.properties.secretUriWithVersion, 'a new value is a new version').not.toBe(created.body.properties.secretUriWithVersion);
    const got = await exercise('keyvault.secret-get', 200);
    for (const answer of [created, again, got]) expect(JSON.stringify(answer.body)).not.toContain('secret-value');
  });

  it('StorageAccounts_ListKeys: the keys of the bound local account', async () => {
    const answer = await exercise('storage.account-list-keys', 200);
    expect(answer.body.keys[0].value).toBe(Buffer.from('contract-key').toString('base64'));
  });

  it('every platform fixture was exercised', () => {
    expect([...seen].sort()).toEqual(fixtureNames('platform'));
  });
});
