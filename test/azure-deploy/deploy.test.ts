/**
 * `bootstrap-cli deploy` to Azure, end to end against the local emulators: the template deployment,
 * secrets, the package published by zip deploy to the emulated App Service (which runs it on the
 * local host), code upload and seed with keys read through ARM, the boot; then idempotency, the dry
 * run, missing credentials and broken packages.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runAzureDeploy, type AzureDeployResult } from '../../bootstrap-cli/azure/deploy.js';
import { appSettings, infraNames, loadTemplate, siteId, vaultId } from '../../bootstrap-cli/azure/infra.js';
import { publishPackage } from '../../bootstrap-cli/azure/publish.js';
import { writeZip } from '../../bootstrap-cli/azure/zip.js';
import { loadTopology } from '../../functions/platform/load.js';
import { startLocalAzure, type LocalAzure } from '../../local/azure/index.js';
import { readZip } from '../../local/azure/arm/unzip.js';
import { exampleDocument, EXAMPLE_TOPOLOGY } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';

const SAMPLE = JSON.parse(readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8')).Values as Record<string, string>;
const CODE = join(dirname(EXAMPLE_TOPOLOGY), 'services');

let azure: LocalAzure;
let work: string;
let config: string;
let staging: string;
let lines: string[] = [];
const io = { out: (t: string) => void lines.push(t), err: (t: string) => void lines.push(t), isTty: false };

/** A smaller platform than the example (one VM: Kafka, authentication, monitoring) keeps the file fast. */
function smallTopologyDoc(): any {
  const doc = exampleDocument();
  doc.name = 'iot-small';
  doc.vms = doc.vms.filter((v: any) => v.name === 'vm-core');
  doc.services = doc.services.filter((s: any) => ['authentication', 'monitoring'].includes(s.name)).map((s: any) => ({ ...s, vm: 'vm-core' }));
  return doc;
}

// The signed-in user (the local Entra ID's tokens): ARM, Kudu and Cosmos DB (local auth off) take it.
/** The RBAC action ARM checks for a request: `<ns>/<type>[/<child type>]/(read|write|delete|<verb>/action)`. */
function actionOf(method: string, path: string): string {
  const after = path.split(/\/providers\//i).pop()!.split('/');
  const [ns, ...rest] = after;
  const types: string[] = [];
  for (let i = 0; i < rest.length; i += 2) types.push(rest[i]!);
  const verb = rest.length % 2 === 1 ? `${rest[rest.length - 1]}/action` : { GET: 'read', HEAD: 'read', PUT: 'write', PATCH: 'write', DELETE: 'delete' }[method]!;
  const typePath = rest.length % 2 === 1 ? types.slice(0, -1) : types;
  return `${ns}/${typePath.join('/')}/${verb}`;
}

const deps = () => ({ io, credential: azure.userCredential, armEndpoint: azure.arm.endpoint, caCert: azure.caCert, pollIntervalInMs: 100 });
const deploy = (extra: Record<string, unknown> = {}): Promise<AzureDeployResult> => runAzureDeploy({ config, code: CODE, stagingDir: staging, ...extra }, deps());
const topology = () => loadTopology(readFileSync(config, 'utf8'));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lcm-azure-deploy-'));
  config = join(work, 'topology.yaml');
  staging = join(work, 'staging');
  const doc = smallTopologyDoc();
  writeFileSync(config, stringify(doc));
  azure = await startLocalAzure({ storageAccount: doc.azure.storage.account, stopGraceMs: 1000 });
}, hang(60_000));

afterAll(async () => {
  await azure?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('bootstrap-cli deploy (Azure path) against the emulators', () => {
  let first: AzureDeployResult;

  it('--dry-run on an empty subscription reads only and says what it would create', async () => {
    lines = [];
    azure.arm.log.reset();
    await deploy({ dryRun: true });
    expect(azure.arm.log.counts().writes).toBe(0);
    expect(azure.arm.platform.appServiceLog).toEqual([]);
    expect(lines.join('\n')).toMatch(/resource group iot-platform-rg .*would create/);
    expect(lines.some((l) => /Microsoft.Web\/sites .*would create/.test(l))).toBe(true);
    expect(lines.some((l) => /secret vm-ssh-private-key .*would generate/.test(l))).toBe(true);
  });

  it('deploys infrastructure, secrets and the package, seeds the platform and completes the boot', async () => {
    lines = [];
    first = await deploy();
    const names = infraNames(topology());
    const text = lines.join('\n');
    // Infrastructure: every template resource exists through ARM, the deployment has outputs.
    expect(first.outputs?.['appName']).toBe(names.app);
    expect(first.outputs?.['cosmosEndpoint']).toBe(azure.cosmos.endpoint);
    const site = azure.arm.platform.resourceById(siteId(names))!;
    expect(site.site?.defaultHostName).toBe(first.outputs?.['appHostName']);
    // Least privilege in the template: the app joins the VMs' VNet through a delegated subnet and
    // reaches them on private addresses; no basic publishing credentials; Key Vault purge protection.
    const rg = `/subscriptions/${names.subscriptionId}/resourceGroups/${names.resourceGroup}/providers`;
    const vnetName = `${topology().azure.resourceGroup}-vnet`;
    const vnet = azure.arm.platform.resourceById(`${rg}/Microsoft.Network/virtualNetworks/${vnetName}`)!;
    const subnets = (vnet.spec as any).properties.subnets as Array<{ name: string; properties: any }>;
    expect(subnets.map((n) => n.name)).toEqual(['default', 'lcm-app']);
    expect(subnets[1]!.properties.delegations[0].properties.serviceName).toBe('Microsoft.Web/serverFarms');
    const siteSpec = (site.spec as any).properties;
    expect(siteSpec.virtualNetworkSubnetId).toMatch(new RegExp(`/virtualNetworks/${vnetName}/subnets/lcm-app$`));
    expect(siteSpec.vnetRouteAllEnabled).toBe(true);
    for (const policy of ['ftp', 'scm']) {
      expect((azure.arm.platform.resourceById(`${siteId(names)}/basicPublishingCredentialsPolicies/${policy}`)!.spec as any).properties.allow, policy).toBe(false);
    }
    expect((azure.arm.platform.resourceById(vaultId(names))!.spec as any).properties.enablePurgeProtection).toBe(true);
    // Cosmos DB takes Entra tokens only; the database and containers come from the template; the
    // app's identity and the deploying user hold the data role on the central database only.
    const cosmosId = `${rg}/Microsoft.DocumentDB/databaseAccounts/${names.cosmosAccount}`;
    expect((azure.arm.platform.resourceById(cosmosId)!.spec as any).properties.disableLocalAuth).toBe(true);
    const sqlRoles = [...azure.arm.platform.resources.values()].filter((r) => r.type.toLowerCase() === 'microsoft.documentdb/databaseaccounts/sqlroleassignments');
    expect(sqlRoles.map((r) => (r.spec as any).properties.principalId).sort()).toEqual([site.site!.principalId, azure.userPrincipalId].sort());
    for (const r of sqlRoles) expect((r.spec as any).properties.scope).toBe(`${cosmosId}/dbs/${names.cosmosDatabase}`);
    // App settings: every setting of local.settings.sample.json (the task hub's as an identity-based
    // connection), secrets as Key Vault references; no account key and no Cosmos key in any of them.
    const settings = site.site!.appSettings;
    for (const name of Object.keys(SAMPLE)) expect(settings, name).toHaveProperty(name === 'AzureWebJobsStorage' ? 'AzureWebJobsStorage__accountName' : name);
    expect(settings['AzureWebJobsStorage']).toBeUndefined();
    expect(settings['AzureWebJobsStorage__accountName']).toBe(names.storageAccount);
    expect(settings['AzureWebJobsStorage__credential']).toBe('managedidentity');
    expect(Object.keys(settings).filter((name) => /COSMOS.*KEY/i.test(name))).toEqual([]);
    expect(settings['LCM_VM_PRIVATE_NETWORK']).toBe('true');
    for (const name of ['LCM_STORAGE_CONNECTION_STRING', 'VM_SSH_PRIVATE_KEY', 'AUTH_TOKEN_SIGNING_KEY', 'LCM_MONITORING_API_KEY', 'LCM_SERVICE_API_KEY', 'LCM_HOST_KEY_SEED']) {
      expect(settings[name], name).toMatch(/^@Microsoft\.KeyVault\(SecretUri=https:\/\/.+\.vault\.azure\.net\/secrets\/.+\/\)$/);
    }
    // Secrets: generated into the vault, readable by the app (resolved references), never printed.
    const resolved = azure.arm.platform.appService.effectiveSettings(site.site!);
    expect(resolved['VM_SSH_PRIVATE_KEY']).toMatch(/PRIVATE KEY/);
    expect(Object.values(resolved).some((v) => v.includes(azure.cosmos.key))).toBe(false);
    // The one setting left holding the storage key (Key Vault reference): the code share's SAS and the content share.
    expect(Object.entries(resolved).filter(([, v]) => v.includes('AccountKey=')).map(([k]) => k).sort()).toEqual(['LCM_STORAGE_CONNECTION_STRING', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING']);
    expect(resolved['LCM_STORAGE_CONNECTION_STRING']).toContain(`AccountKey=${azure.files.accountKey}`);
    for (const secret of [resolved['VM_SSH_PRIVATE_KEY']!, resolved['AUTH_TOKEN_SIGNING_KEY']!, azure.cosmos.key, azure.files.accountKey, resolved['LCM_MONITORING_API_KEY']!, resolved['LCM_SERVICE_API_KEY']!, resolved['LCM_HOST_KEY_SEED']!]) {
      expect(text.includes(secret)).toBe(false);
      expect(text.includes(secret.split('\n')[1] ?? secret)).toBe(false);
    }
    expect(first.secretsCreated?.sort()).toEqual(['auth-token-signing-key', 'lcm-host-key-seed', 'lcm-monitoring-api-key', 'lcm-service-api-key', 'vm-ssh-private-key']);
    // The monitoring key is a function key of the registry and restart functions, never a host key.
    expect(site.site!.keys.functionKeys['monitoring']).toBeUndefined();
    expect(Object.keys(site.site!.keys.perFunction).sort()).toEqual(['appRestart', 'modelRestart', 'registry', 'registryEntry', 'serviceRestart'].map((f) => f.toLowerCase()).sort());
    for (const keys of Object.values(site.site!.keys.perFunction)) expect(keys['monitoring']).toBe(resolved['LCM_MONITORING_API_KEY']);
    // The services' key reads the registry, nothing else.
    expect(site.site!.keys.functionKeys['service']).toBeUndefined();
    expect(Object.entries(site.site!.keys.perFunction).filter(([, keys]) => keys['service'] !== undefined).map(([fn]) => fn).sort()).toEqual(['registry', 'registryentry']);
    for (const fn of ['registry', 'registryentry']) expect(site.site!.keys.perFunction[fn]!['service']).toBe(resolved['LCM_SERVICE_API_KEY']);
    const appUrl = `http://${site.site!.defaultHostName}`;
    const asMonitoring = (path: string, method = 'GET') => fetch(`${appUrl}/api/${path}`, { method, headers: { 'x-functions-key': resolved['LCM_MONITORING_API_KEY']! } });
    expect((await asMonitoring('registry')).status).toBe(200);
    for (const [path, method] of [['platform', 'GET'], ['boot', 'POST'], ['vms/vm-core/restart', 'POST'], ['operations/boot', 'GET']] as const) {
      expect((await asMonitoring(path, method)).status, `${method} ${path} with the monitoring key`).toBe(401);
    }
    // The central UI came in the package: the deployed app serves its page and the script it loads.
    const ui = await fetch(`${appUrl}/api/ui/`);
    expect(ui.status).toBe(200);
    const script = /src="\/api\/ui\/(app-[0-9a-f]{12}\.js)"/.exec(await ui.text())?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${appUrl}/api/ui/${script}`)).status).toBe(200);

    const asService = (path: string, method = 'GET') => fetch(`${appUrl}/api/${path}`, { method, headers: { 'x-functions-key': resolved['LCM_SERVICE_API_KEY']! } });
    expect((await asService('registry')).status).toBe(200);
    for (const [path, method] of [['services/authentication/restart', 'POST'], ['platform', 'GET'], ['boot', 'POST']] as const) {
      expect((await asService(path, method)).status, `${method} ${path} with the service key`).toBe(401);
    }
    // Publish: one zip deploy, the app runs from the unpacked package.
    expect(first.published).toBe(true);
    expect(azure.arm.platform.appServiceLog.filter((e) => e.path === '/api/zipdeploy')).toHaveLength(1);
    expect(site.site!.host).toBeDefined();
    // Seed: code uploaded, topology written.
    expect(first.seed!.uploads.reduce((n, u) => n + u.uploaded.length, 0)).toBeGreaterThan(0);
    expect(first.seed!.topologyVersion).toBe(1);
    // Boot: started on the deployed app and followed to its end.
    expect(text).toMatch(/boot started: operation boot/);
    expect(first.boot?.runtimeStatus, JSON.stringify(first.boot?.output)).toBe('Completed');
    expect((first.boot?.output as any)?.status, JSON.stringify(first.boot?.output)).toBe('succeeded');
    expect(first.exitCode).toBe(0);
    expect(text).toMatch(/service authentication \(vm-core\): running/);
    // Every Compute and Network call the LCM made during the boot is an action of its custom role.
    const role = (loadTemplate() as any).resources.find((r: any) => r.type === 'Microsoft.Authorization/roleDefinitions');
    const granted = new Set((role.properties.permissions[0].actions as string[]).map((a) => a.toLowerCase()));
    const called = new Set(azure.arm.log.entries.filter((e) => /\/providers\/Microsoft\.(Compute|Network)\//i.test(e.path)).map((e) => actionOf(e.method, e.path).toLowerCase()));
    expect(called.size).toBeGreaterThan(5);
    expect([...called].filter((a) => !granted.has(a))).toEqual([]);
  }, hang(300_000));

  it('a second run changes nothing: resources not recreated, no publish, no upload, same topology version', async () => {
    const names = infraNames(topology());
    const before = new Map([...azure.arm.platform.resources.values()].map((r) => [r.id, { createdAt: r.createdAt, version: r.version }]));
    azure.arm.log.reset();
    const appLogBefore = azure.arm.platform.appServiceLog.length;
    lines = [];
    const second = await deploy();
    expect(second.exitCode).toBe(0);
    // The only ARM writes: the template deployment re-PUT (ARM's idempotency), and the POST actions
    // listKeys (reads of keys, counted as writes by ARM).
    const writes = azure.arm.log.entries.filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    expect(new Set(writes.map((e) => e.kind))).toEqual(new Set(['deployment.write', 'keys.list']));
    expect(writes.filter((e) => e.kind === 'deployment.write')).toHaveLength(1);
    const deployment = [...azure.arm.platform.deployments.values()][0]!;
    expect(new Set(Object.values(deployment.changes))).toEqual(new Set(['unchanged']));
    for (const r of azure.arm.platform.resources.values()) expect(before.get(r.id), r.id).toEqual({ createdAt: r.createdAt, version: r.version });
    expect(second.secretsCreated).toEqual([]);
    expect(second.published).toBe(false);
    expect(azure.arm.platform.appServiceLog.slice(appLogBefore).filter((e) => e.method === 'POST')).toEqual([]);
    expect(second.seed!.uploads.reduce((n, u) => n + u.uploaded.length, 0)).toBe(0);
    expect(second.seed!.topologyChanged).toBe(false);
    expect(second.seed!.topologyVersion).toBe(first.seed!.topologyVersion);
    expect(second.package?.reused).toBe(true);
    expect(azure.arm.platform.resourceById(`${vaultId(names)}/secrets/vm-ssh-private-key`)?.version).toBe(1);
  }, hang(120_000));

  it('--dry-run on the deployed platform writes nothing and reports what exists', async () => {
    azure.arm.log.reset();
    const appLogBefore = azure.arm.platform.appServiceLog.length;
    const filesBefore = azure.files.log.entries().filter((e) => e.method !== 'GET' && e.method !== 'HEAD').length;
    lines = [];
    await deploy({ dryRun: true });
    expect(azure.arm.log.counts().writes).toBe(0);
    expect(azure.arm.platform.appServiceLog.slice(appLogBefore).every((e) => e.method === 'GET')).toBe(true);
    expect(azure.files.log.entries().filter((e) => e.method !== 'GET' && e.method !== 'HEAD').length).toBe(filesBefore);
    expect(lines.some((l) => /Microsoft.Web\/sites .*exists/.test(l))).toBe(true);
    expect(lines.some((l) => /secret vm-ssh-private-key .*exists/.test(l))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/would create/);
  });

  it('without credentials: a clear error that says to run az login, and nothing is called', async () => {
    const saved = process.env.AZURE_TOKEN_CREDENTIALS;
    process.env.AZURE_TOKEN_CREDENTIALS = 'AzureCliCredential'; // no az CLI here: the chain has nothing to offer
    azure.arm.log.reset();
    try {
      await expect(runAzureDeploy({ config, code: CODE, stagingDir: staging }, { io, armEndpoint: azure.arm.endpoint, caCert: azure.caCert })).rejects.toThrow(/az login/);
    } finally {
      if (saved === undefined) delete process.env.AZURE_TOKEN_CREDENTIALS;
      else process.env.AZURE_TOKEN_CREDENTIALS = saved;
    }
    expect(azure.arm.log.entries).toEqual([]);
  });

  it('a package missing host.json or a production dependency fails at publish with a clear error', async () => {
    const names = infraNames(topology());
    const site = azure.arm.platform.resourceById(siteId(names))!.site!;
    const target = { scmHost: site.scmHostName, token: async () => 'local-token', agent: new (await import('node:https')).Agent({ ca: azure.caCert }) };
    const entries = await readZip(readFileSync(first.package!.zipFile));
    const broken = async (file: string, drop: (name: string) => boolean) => {
      const zipFile = join(work, file);
      await writeZip(zipFile, entries.filter((e) => !drop(e.name)));
      return { zipFile, sha256: file };
    };
    await expect(publishPackage(target, await broken('no-host.zip', (n) => n === 'host.json'), { pollIntervalInMs: 100 })).rejects.toThrow(/host\.json not found/);
    await expect(
      publishPackage(target, await broken('no-durable.zip', (n) => n.startsWith('node_modules/durable-functions/')), { pollIntervalInMs: 100 }),
    ).rejects.toThrow(/zip deploy .* failed: Deployment failed: Loading the function app entry .*durable-functions/s);
  }, hang(180_000));
});

describe('app settings', () => {
  it('cover every setting of local.settings.sample.json for the example topology', () => {
    const t = loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));
    const settings = { ...appSettings(t, infraNames(t)), LCM_COSMOS_ENDPOINT: 'from the template' };
    // On Azure the task hub is an identity-based connection (AzureWebJobsStorage__accountName).
    expect(Object.keys(settings)).toEqual(expect.arrayContaining(Object.keys(SAMPLE).map((k) => (k === 'AzureWebJobsStorage' ? 'AzureWebJobsStorage__accountName' : k))));
    for (const [k, v] of Object.entries(SAMPLE)) if (v.startsWith('@Microsoft.KeyVault')) expect(settings[k as keyof typeof settings], k).toMatch(/^@Microsoft\.KeyVault/);
  });
});
