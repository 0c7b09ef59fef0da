/**
 * `bootstrap-cli deploy` to Azure: sign in, ensure the infrastructure with infra/lcm.json (one
 * template deployment), generate the secrets that do not exist yet, package and publish the
 * function app, upload the service code and seed the topology, start the boot and follow it.
 * With `dryRun` every step only reads and says what it would create or change.
 *
 * Every call goes through ARM, Kudu, Files and Cosmos over their real protocols; the emulators
 * differ only in endpoint, CA and credential (deps).
 */
import { generateSshKeyPair } from '../../functions/cloud/secrets.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { CentralDb, createCosmosClient } from '../../functions/cloud/central-db.js';
import { CodeShare } from '../../functions/cloud/code-share.js';
import { azureCredential } from '../../functions/cloud/credentials.js';
import type { BootProgress } from '../../functions/platform/boot-state.js';
import { planTopology } from '../../functions/platform/plan.js';
import type { Topology } from '../../functions/platform/topology.js';
import { ACTIVE_STATES, LcmApi, type OperationStatus } from '../api-client.js';
import { requireConfig } from '../config.js';
import { CliError, EXIT, type CliIo } from '../io.js';
import { LineProgress, layoutOf } from '../progress.js';
import { checkCodeFolders, codeFolders, seedPlatform, type SeedResult } from '../seed.js';
import { ArmClient } from './arm.js';
import { MONITORING_FUNCTIONS, MONITORING_KEY_NAME, SERVICE_FUNCTIONS, SERVICE_KEY_NAME } from '../../functions/http/roles.js';
import {
  API,
  DEPLOYMENT_NAME,
  generatedSecrets,
  infraNames,
  loadTemplate,
  MONITORING_KEY_SETTING,
  SERVICE_KEY_SETTING,
  namedResources,
  secretNameOf,
  resourceGroupPath,
  siteId,
  templateParameters,
  appSettings,
  vaultId,
  type InfraNames,
} from './infra.js';
import { buildFunctionPackage, type FunctionPackage } from './package.js';
import { coreToolsVersion, latestDeployment, publishPackage, type KuduTarget } from './publish.js';

export interface AzureDeployOptions {
  config: string;
  /** Folder with each service's code under its `source` (default: <dir of config>/services). */
  code?: string;
  dryRun?: boolean;
  subscription?: string;
  resourceGroup?: string;
  location?: string;
  appName?: string;
  keyVaultName?: string;
  /** Where the package is built; reused across runs when the sources did not change. Default: a temporary folder. */
  stagingDir?: string;
  /** Stop after seeding (do not start the boot). */
  noBoot?: boolean;
  /** Keep running VMs added through the API that the topology file does not list (else refuse). */
  mergeVms?: boolean;
}

export interface AzureDeployDeps {
  io: CliIo;
  /** Default: DefaultAzureCredential (the `az login` session, the environment, a managed identity). */
  credential?: TokenCredential;
  /** ARM endpoint (default https://management.azure.com). */
  armEndpoint?: string;
  /** PEM certificate to trust for ARM, Kudu and Cosmos (the local emulators'). */
  caCert?: string;
  pollIntervalInMs?: number;
}

export interface AzureDeployResult {
  exitCode: number;
  names: InfraNames;
  outputs?: Record<string, unknown>;
  package?: FunctionPackage;
  published?: boolean;
  seed?: SeedResult;
  secretsCreated?: string[];
  boot?: OperationStatus;
  appUrl?: string;
}

export async function runAzureDeploy(options: AzureDeployOptions, deps: AzureDeployDeps): Promise<AzureDeployResult> {
  const say = (line: string) => deps.io.out(line);
  const topology = await requireConfig(options.config);
  const codeRoot = resolve(options.code ?? join(dirname(options.config), 'services'));
  const missing = await checkCodeFolders(topology, codeRoot);
  if (missing.length) throw new CliError(`service code missing under ${codeRoot} (pass the folder with --code DIR):\n  ${missing.join('\n  ')}`, EXIT.failed);
  const names = infraNames(topology, options);
  const credential = deps.credential ?? azureCredential();
  const arm = new ArmClient({ credential, endpoint: deps.armEndpoint, caCert: deps.caCert, pollIntervalInMs: deps.pollIntervalInMs });
  const result: AzureDeployResult = { exitCode: EXIT.ok, names };

  // 1. Sign-in and the resource group (the first ARM call: a missing login fails here, clearly).
  const group = await arm.get(`read resource group ${names.resourceGroup}`, resourceGroupPath(names), API.resourceGroup);
  if (options.dryRun) return dryRun(arm, topology, names, codeRoot, group !== undefined, say, result);
  if (group) say(`resource group ${names.resourceGroup}: exists (${group.location})`);
  else {
    await arm.put(`create resource group ${names.resourceGroup}`, resourceGroupPath(names), API.resourceGroup, { location: names.location, tags: { 'lcm-platform': topology.name } });
    say(`resource group ${names.resourceGroup}: created in ${names.location}`);
  }

  // 2. Infrastructure: one incremental template deployment (ARM leaves unchanged resources alone).
  say(`infrastructure: deploying infra/lcm.json as ${DEPLOYMENT_NAME} (app ${names.app}, vault ${names.keyVault}, storage ${names.storageAccount}, cosmos ${names.cosmosAccount})`);
  const deploymentPath = `${resourceGroupPath(names)}/providers/Microsoft.Resources/deployments/${DEPLOYMENT_NAME}`;
  const deployment = await arm.put(`template deployment ${DEPLOYMENT_NAME} in ${names.resourceGroup}`, deploymentPath, API.deployment, {
    properties: { mode: 'Incremental', template: loadTemplate(), parameters: templateParameters(topology, names, { principalId: await arm.principalId('read the signed-in principal') }) },
  });
  const outputs = Object.fromEntries(Object.entries((deployment?.properties?.outputs ?? {}) as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
  result.outputs = outputs;
  const appHost = String(outputs['appHostName'] ?? `${names.app}.azurewebsites.net`);
  say(`infrastructure: ${deployment?.properties?.provisioningState ?? 'done'}; app ${appHost}`);

  // 3. Secrets generated here, once: values go straight into the ARM request body, never to output.
  const secrets = await ensureSecrets(arm, topology, names, say);
  result.secretsCreated = secrets.created;

  // 4. Package and publish.
  const stagingDir = options.stagingDir ?? (await mkdtemp(join(tmpdir(), 'lcm-package-')));
  const pkg = await buildFunctionPackage({ stagingDir, log: say });
  result.package = pkg;
  const tools = coreToolsVersion();
  if (tools) say(`publish: Functions Core Tools ${tools} found; publishing by zip deploy (same result as func azure functionapp publish)`);
  const kuduTarget = await kudu(arm, names);
  const published = await publishPackage(kuduTarget, pkg, { say, pollIntervalInMs: deps.pollIntervalInMs });
  result.published = published.published;
  await ensureRoleKeys(arm, names, MONITORING_ROLE, secrets.monitoringKey, say);
  await ensureRoleKeys(arm, names, SERVICE_ROLE, secrets.serviceKey, say);

  // 5. Service code and topology, with the account keys read through ARM (never printed). The
  //    topology seeded targets where this deploy put the platform: --subscription/--resource-group/
  //    --location move the VMs too (the app's roles are on that resource group, created in step 1).
  result.seed = await seed(arm, credential, deploymentTopology(topology, names), names, codeRoot, outputs, deps.caCert, say, options.mergeVms ?? false);

  // 6. Boot.
  const appUrl = appUrlOf(appHost);
  result.appUrl = appUrl;
  if (options.noBoot) {
    say(`done: the LCM runs at ${appUrl}; start the boot with POST ${appUrl}/api/boot`);
    return result;
  }
  const hostKeys = await arm.post(`read the function keys of ${names.app}`, `${siteId(names)}/host/default/listKeys`, API.web);
  const api = new LcmApi(appUrl, hostKeys?.functionKeys?.default ?? hostKeys?.masterKey);
  const boot = await startAndFollowBoot(api, topology, say, deps.pollIntervalInMs);
  result.boot = boot;
  const output = boot.output as { status?: string } | null;
  const ok = boot.runtimeStatus === 'Completed' && output?.status === 'succeeded';
  say(`boot ${boot.runtimeStatus === 'Completed' ? (output?.status ?? 'finished') : boot.runtimeStatus.toLowerCase()}; the LCM API: ${appUrl}/api (key: az functionapp keys list -n ${names.app} -g ${names.resourceGroup})`);
  result.exitCode = ok ? EXIT.ok : EXIT.failed;
  return result;
}

/** The topology as deployed: its Azure target is the subscription, group and region of this deploy. */
export function deploymentTopology(topology: Topology, names: InfraNames): Topology {
  return { ...topology, azure: { ...topology.azure, subscriptionId: names.subscriptionId, resourceGroup: names.resourceGroup, location: names.location } };
}

/** Loopback hosts are the emulated App Service (plain http); everything else is https. */
export function appUrlOf(host: string): string {
  return /^(127\.|localhost[:/]|localhost$|\[::1\])/.test(host) ? `http://${host}` : `https://${host}`;
}

async function kudu(arm: ArmClient, names: InfraNames): Promise<KuduTarget> {
  const site = await arm.get(`read function app ${names.app}`, siteId(names), API.web);
  const states = (site?.properties?.hostNameSslStates ?? []) as Array<{ name: string; hostType: string }>;
  const scmHost = states.find((s) => s.hostType === 'Repository')?.name ?? `${names.app}.scm.azurewebsites.net`;
  return { scmHost, token: () => arm.token(`publish to ${scmHost}`), agent: arm.httpsAgent };
}

async function ensureSecrets(arm: ArmClient, topology: Topology, names: InfraNames, say: (line: string) => void): Promise<{ created: string[]; monitoringKey?: string; serviceKey?: string }> {
  const created: string[] = [];
  let monitoringKey: string | undefined;
  let serviceKey: string | undefined;
  const secretPath = (secret: string) => `${vaultId(names)}/secrets/${secret}`;
  const put = (secret: string, value: string) => arm.put(`store secret ${secret} in ${names.keyVault}`, secretPath(secret), API.keyVault, { properties: { value } });
  for (const g of generatedSecrets(topology)) {
    const exists = (await arm.get(`read secret ${g.secret}`, secretPath(g.secret), API.keyVault)) !== undefined;
    if (exists) continue;
    const value = g.kind === 'ssh-key' ? generateSshKeyPair().private : randomBytes(32).toString('base64url');
    // The monitoring key also becomes a function key of the functions it may call, once they exist (after publish).
    if (g.kind === 'monitoring-key') monitoringKey = value;
    if (g.kind === 'service-key') serviceKey = value;
    await put(g.secret, value);
    created.push(g.secret);
    say(`secret ${g.secret} (app setting ${g.setting}): generated and stored in Key Vault ${names.keyVault} (value not shown)`);
  }
  if (created.length === 0) say(`secrets: all ${generatedSecrets(topology).length} exist in Key Vault ${names.keyVault}`);
  return { created, monitoringKey, serviceKey };
}

/** A role's key: which function-specific key name, on which functions, from which secret. */
interface RoleKey {
  role: string;
  keyName: string;
  functions: readonly string[];
  setting: string;
}
const MONITORING_ROLE: RoleKey = { role: 'monitoring', keyName: MONITORING_KEY_NAME, functions: MONITORING_FUNCTIONS, setting: MONITORING_KEY_SETTING };
const SERVICE_ROLE: RoleKey = { role: 'service', keyName: SERVICE_KEY_NAME, functions: SERVICE_FUNCTIONS, setting: SERVICE_KEY_SETTING };

/**
 * A role's key as a function key on each function it may call (functions/http/roles.ts), never a
 * host key: the monitoring key opens the registry and the restart routes, the services' key the
 * registry, and nothing else. Needs the app published (Azure refuses keys for functions it does not have).
 */
async function ensureRoleKeys(arm: ArmClient, names: InfraNames, role: RoleKey, generated: string | undefined, say: (line: string) => void): Promise<void> {
  const fnPath = (fn: string) => `${siteId(names)}/functions/${fn}`;
  const current = new Map<string, string | undefined>();
  for (const fn of role.functions) {
    const keys = await arm.post(`read the keys of function ${fn} of ${names.app}`, `${fnPath(fn)}/listkeys`, API.web);
    current.set(fn, (keys?.properties ?? keys)?.[role.keyName]);
  }
  let value = generated;
  if (value === undefined) {
    if ([...current.values()].every((v) => v !== undefined)) return;
    // The Key Vault secret exists but some function lacks the key: reuse the value a function (or
    // the former host key of that name) has; the secret holds the same value.
    const hostKeys = await arm.post(`read the host keys of ${names.app}`, `${siteId(names)}/host/default/listKeys`, API.web);
    value = [...current.values()].find((v) => v !== undefined) ?? hostKeys?.functionKeys?.[role.keyName];
    if (value === undefined) {
      throw new CliError(
        `the ${role.role} key exists in Key Vault ${names.keyVault} but on no function of ${names.app}: delete the secret ${secretNameOf(role.setting)} and deploy again to generate a new one`,
        EXIT.failed,
      );
    }
    if (hostKeys?.functionKeys?.[role.keyName]) {
      say(`keys: the host key "${role.keyName}" of ${names.app} opens every function; delete it: az functionapp keys delete -n ${names.app} -g ${names.resourceGroup} --key-type functionKeys --key-name ${role.keyName}`);
    }
  }
  for (const fn of role.functions) {
    if (current.get(fn) === value) continue;
    await arm.put(`set the ${role.keyName} key of function ${fn}`, `${fnPath(fn)}/keys/${role.keyName}`, API.web, { properties: { name: role.keyName, value } });
  }
  say(`keys: the ${role.role} key is a function key of ${role.functions.join(', ')} only`);
}

async function seed(
  arm: ArmClient,
  credential: TokenCredential,
  topology: Topology,
  names: InfraNames,
  codeRoot: string,
  outputs: Record<string, unknown>,
  caCert: string | undefined,
  say: (line: string) => void,
  mergeVms: boolean,
): Promise<SeedResult> {
  const rg = `/subscriptions/${names.subscriptionId}/resourceGroups/${names.resourceGroup}/providers`;
  const storageKeys = await arm.post(`read the keys of storage account ${names.storageAccount}`, `${rg}/Microsoft.Storage/storageAccounts/${names.storageAccount}/listKeys`, API.storage);
  const accountKey: string | undefined = storageKeys?.keys?.[0]?.value;
  if (!accountKey) throw new CliError(`seed: ARM returned no key for storage account ${names.storageAccount} (is shared-key access disabled on it?)`, EXIT.failed);
  const fileEndpoint = String(outputs['storageFileEndpoint'] ?? `https://${names.storageAccount}.file.core.windows.net/`);
  const share = CodeShare.fromConnectionString(
    `DefaultEndpointsProtocol=https;AccountName=${names.storageAccount};AccountKey=${accountKey};FileEndpoint=${fileEndpoint}`,
    names.codeShare,
    { caCert },
  );
  // Cosmos DB takes Entra tokens only: the signed-in principal seeds with the data role the template gave it.
  const cosmos = createCosmosClient({ endpoint: String(outputs['cosmosEndpoint']), credential, caCert });
  try {
    const db = new CentralDb(cosmos, { databaseId: names.cosmosDatabase });
    say(`seed: uploading ${codeFolders(topology).length} code folders from ${codeRoot} to share ${names.codeShare}`);
    const result = await seedPlatform({ topology, codeRoot, db, share, mergeVms });
    if (result.mergedVms.length) say(`seed: kept ${result.mergedVms.length} VM(s) added through the API: ${result.mergedVms.join(', ')} (--merge-vms)`);
    const uploaded = result.uploads.reduce((n, u) => n + u.uploaded.length, 0);
    const unchanged = result.uploads.reduce((n, u) => n + u.unchanged.length, 0);
    say(`seed: ${uploaded} files uploaded, ${unchanged} unchanged; topology version ${result.topologyVersion} (${result.topologyChanged ? 'changed' : 'unchanged'})`);
    return result;
  } finally {
    cosmos.dispose();
  }
}

/** What a freshly published app answers while its host starts: 404 until the functions are indexed, 502/503 from the front end. */
const COLD_START_STATUSES = new Set([404, 502, 503]);

export async function startAndFollowBoot(api: LcmApi, topology: Topology, say: (line: string) => void, pollIntervalInMs = 1000): Promise<OperationStatus> {
  // A freshly published app may take a moment to answer (cold start): retry the start a few times.
  let started: { status: number; body: { id?: string; operation?: { id?: string }; error?: string } } | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      started = await api.post('boot', { requestedBy: 'bootstrap-cli deploy' });
      if (!COLD_START_STATUSES.has(started.status) || attempt >= 10) break;
    } catch (e) {
      if (attempt >= 10) throw e;
    }
    await new Promise((r) => setTimeout(r, Math.min(pollIntervalInMs * attempt, 10_000)));
  }
  const id = started.status === 202 ? started.body.id : started.status === 409 ? started.body.operation?.id : undefined;
  if (!id) throw new CliError(`boot: POST ${api.baseUrl}/api/boot answered ${started.status}: ${started.body.error ?? JSON.stringify(started.body)}`, EXIT.failed);
  say(started.status === 202 ? `boot started: operation ${id}` : `boot already running: following operation ${id}`);
  const lines = new LineProgress(layoutOf(planTopology(topology)));
  const final = await api.follow(id, {
    intervalMs: Math.max(200, pollIntervalInMs),
    onStatus: (s) => {
      for (const line of lines.update(s.customStatus as BootProgress | null)) say(line);
    },
  });
  if (ACTIVE_STATES.has(final.runtimeStatus)) throw new CliError(`boot: operation ${id} is still ${final.runtimeStatus}`, EXIT.failed);
  return final;
}

async function dryRun(
  arm: ArmClient,
  topology: Topology,
  names: InfraNames,
  codeRoot: string,
  groupExists: boolean,
  say: (line: string) => void,
  result: AzureDeployResult,
): Promise<AzureDeployResult> {
  say('dry run: reading only; nothing is created or changed');
  say(`resource group ${names.resourceGroup} (subscription ${names.subscriptionId}): ${groupExists ? 'exists' : `would create in ${names.location}`}`);
  const state = new Map<string, boolean>();
  for (const r of namedResources(names)) {
    const exists = groupExists && (await arm.get(`read ${r.type} ${r.name}`, r.path, r.apiVersion)) !== undefined;
    state.set(r.type + '/' + r.name, exists);
    say(`  ${r.type} ${r.name}: ${exists ? 'exists (the template deployment would update it in place if its definition changed)' : 'would create'}`);
  }
  say(`  app settings of ${names.app}: would set ${Object.keys(appSettings(topology, names)).length + 1} settings (secrets as Key Vault references)`);
  say(
    `  roles (ensured by the template): the app's managed identity gets the custom role "LCM VM operator" on ${names.resourceGroup} (VMs and their network only), ` +
      `Key Vault Secrets User on ${names.keyVault}, Storage Blob Data Owner + Queue and Table Data Contributor on ${names.storageAccount} (task hub), ` +
      `Cosmos DB Built-in Data Contributor on ${names.cosmosAccount}/${names.cosmosDatabase}; you get that Cosmos role too (to seed)`,
  );
  const vaultExists = state.get(`Microsoft.KeyVault/vaults/${names.keyVault}`) === true;
  for (const g of generatedSecrets(topology)) {
    const exists = vaultExists && (await arm.get(`read secret ${g.secret}`, `${vaultId(names)}/secrets/${g.secret}`, API.keyVault)) !== undefined;
    say(`  secret ${g.secret} (app setting ${g.setting}): ${exists ? 'exists' : 'would generate and store'}`);
  }
  const siteExists = state.get(`Microsoft.Web/sites/${names.app}`) === true;
  if (siteExists) {
    const target = await kudu(arm, names);
    const latest = await latestDeployment(target);
    say(`function app: would build the package and publish it to https://${target.scmHost} unless it equals the running one (${latest?.complete && latest.status === 4 ? `running: ${latest.message ?? latest.id}` : 'nothing published yet'})`);
  } else say('function app: would build the package and publish it by zip deploy');
  say(`service code: would upload what differs in ${codeFolders(topology).length} folders under ${codeRoot} to share ${names.codeShare}`);
  say(`topology: would write ${topology.name} into Cosmos DB ${names.cosmosAccount}/${names.cosmosDatabase} (a new version only when it changed)`);
  say('boot: would start POST /api/boot and follow it');
  return result;
}
