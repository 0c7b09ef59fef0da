/**
 * What the deployment creates, derived from the topology: resource names, the template's parameters
 * (app settings with Key Vault references, never secret values), the secrets bootstrap-cli generates,
 * and the list of resources a dry run reads. infra/lcm.json is the template.
 */
import { vmNetworkNames } from '../../functions/cloud/network.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../functions/platform/topology.js';
import { PACKAGE_ROOT } from '../package-root.js';

export const TEMPLATE_FILE = join(PACKAGE_ROOT, 'infra', 'lcm.json');
export const DEPLOYMENT_NAME = 'lcm-infra';
export const API = {
  resourceGroup: '2021-04-01',
  deployment: '2021-04-01',
  storage: '2023-05-01',
  cosmos: '2024-05-15',
  keyVault: '2023-07-01',
  web: '2023-12-01',
} as const;

export interface InfraNames {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  storageAccount: string;
  codeShare: string;
  contentShare: string;
  cosmosAccount: string;
  cosmosDatabase: string;
  keyVault: string;
  plan: string;
  app: string;
}

export interface InfraOverrides {
  subscription?: string;
  resourceGroup?: string;
  location?: string;
  appName?: string;
  keyVaultName?: string;
}

const slug = (s: string, max: number): string => s.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, max).replace(/-$/, '');

/** Global names (Key Vault, the app's hostname) get a short hash of subscription + group so two platforms do not collide. */
export function infraNames(topology: Topology, o: InfraOverrides = {}): InfraNames {
  const subscriptionId = o.subscription ?? topology.azure.subscriptionId;
  const resourceGroup = o.resourceGroup ?? topology.azure.resourceGroup;
  const suffix = createHash('sha256').update(`${subscriptionId}/${resourceGroup}`.toLowerCase()).digest('hex').slice(0, 6);
  const app = o.appName ?? `lcm-${slug(topology.name, 40)}-${suffix}`;
  return {
    subscriptionId,
    resourceGroup,
    location: o.location ?? topology.azure.location,
    storageAccount: topology.azure.storage.account,
    codeShare: topology.azure.storage.share,
    contentShare: slug(app, 63),
    cosmosAccount: topology.azure.cosmos.account,
    cosmosDatabase: topology.azure.cosmos.database,
    keyVault: o.keyVaultName ?? `kv-${slug(topology.name, 13)}-${suffix}`,
    plan: `${app}-plan`,
    app,
  };
}

/** Key Vault secret name of an app setting: VM_SSH_PRIVATE_KEY -> vm-ssh-private-key. */
export const secretNameOf = (setting: string): string => setting.toLowerCase().replace(/[^a-z0-9-]/g, '-');

export const kvReference = (vault: string, secret: string): string => `@Microsoft.KeyVault(SecretUri=https://${vault}.vault.azure.net/secrets/${secret}/)`;

/**
 * Secrets the template fills from listKeys (never leave ARM). Only the storage connection string:
 * Cosmos DB has local auth off (Entra tokens only) and the task hub uses the app's identity; the
 * key stays for Elastic Premium's content share and the VMs' SAS code fetch (infra/lcm.json comments).
 */
export const TEMPLATE_SECRETS = { storageConnection: 'storage-connection' } as const;
export const MONITORING_KEY_SETTING = 'LCM_MONITORING_API_KEY';
export const HOST_KEY_SEED_SETTING = 'LCM_HOST_KEY_SEED';
/** The key the other services read the registry with (functions/http/roles.ts SERVICE_FUNCTIONS). */
export const SERVICE_KEY_SETTING = 'LCM_SERVICE_API_KEY';
export { MONITORING_KEY_NAME } from '../../functions/http/roles.js';

export interface GeneratedSecret {
  setting: string;
  secret: string;
  kind: 'ssh-key' | 'random' | 'monitoring-key' | 'service-key';
}

/** Secrets bootstrap-cli generates once (kept when they exist): SSH keys, services' secretEnv, the role keys, the host-key seed. */
export function generatedSecrets(topology: Topology): GeneratedSecret[] {
  const out = new Map<string, GeneratedSecret>();
  for (const vm of topology.vms) out.set(vm.sshKeySecret, { setting: vm.sshKeySecret, secret: secretNameOf(vm.sshKeySecret), kind: 'ssh-key' });
  for (const s of topology.services) {
    for (const setting of Object.values(s.secretEnv)) if (!out.has(setting)) out.set(setting, { setting, secret: secretNameOf(setting), kind: 'random' });
  }
  out.set(MONITORING_KEY_SETTING, { setting: MONITORING_KEY_SETTING, secret: secretNameOf(MONITORING_KEY_SETTING), kind: 'monitoring-key' });
  out.set(SERVICE_KEY_SETTING, { setting: SERVICE_KEY_SETTING, secret: secretNameOf(SERVICE_KEY_SETTING), kind: 'service-key' });
  // The VMs' SSH host keys are derived from it (functions/cloud/host-keys.ts).
  out.set(HOST_KEY_SEED_SETTING, { setting: HOST_KEY_SEED_SETTING, secret: secretNameOf(HOST_KEY_SEED_SETTING), kind: 'random' });
  return [...out.values()];
}

/**
 * Every setting of local.settings.sample.json (plus the topology's secret settings), secrets as Key
 * Vault references. LCM_COSMOS_ENDPOINT is added by the template (it is the account's output).
 */
export function appSettings(topology: Topology, names: InfraNames): Record<string, string> {
  const kv = (secret: string) => kvReference(names.keyVault, secret);
  const settings: Record<string, string> = {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    FUNCTIONS_EXTENSION_VERSION: '~4',
    // The task hub over the app's system-assigned identity (Blob Data Owner, Queue and Table Data
    // Contributor on the account, in the template): no key in this connection.
    AzureWebJobsStorage__accountName: names.storageAccount,
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsFeatureFlags: 'EnableWorkerIndexing',
    // Elastic Premium keeps the app's content in a file share of the same account; this setting
    // takes a connection string only (no identity), so the key stays, in Key Vault.
    WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: kv(TEMPLATE_SECRETS.storageConnection),
    WEBSITE_CONTENTSHARE: names.contentShare,
    WEBSITE_SKIP_CONTENTSHARE_VALIDATION: '1',
    WEBSITE_RUN_FROM_PACKAGE: '1',
    LCM_ARM_ENDPOINT: 'https://management.azure.com',
    LCM_ARM_POLL_INTERVAL_MS: '2000',
    LCM_ARM_READS_PER_SECOND: '20',
    LCM_ARM_WRITES_PER_SECOND: '8',
    LCM_SSH_PORT: '22',
    LCM_SSH_CONNECT_TIMEOUT_MS: '20000',
    LCM_SSH_CONNECT_ATTEMPTS: '6',
    // The app joins the VMs' virtual network (infra/lcm.json) and their NSGs admit the VNet only.
    LCM_VM_PRIVATE_NETWORK: 'true',
    LCM_COSMOS_DATABASE: names.cosmosDatabase,
    // No Cosmos key setting: the LCM reaches Cosmos DB with its managed identity (local auth is off).
    LCM_STORAGE_CONNECTION_STRING: kv(TEMPLATE_SECRETS.storageConnection),
    LCM_CODE_SHARE: names.codeShare,
    LCM_PUBLIC_API_URL: `https://${names.app}.azurewebsites.net`,
  };
  for (const g of generatedSecrets(topology)) settings[g.setting] = kv(g.secret);
  return settings;
}

/** The principal running the deploy: it gets a Cosmos data role on the central database, to seed it. */
export interface Deployer {
  principalId: string;
}

export function templateParameters(topology: Topology, names: InfraNames, deployer: Deployer): Record<string, { value: unknown }> {
  return {
    location: { value: names.location },
    storageAccountName: { value: names.storageAccount },
    codeShareName: { value: names.codeShare },
    contentShareName: { value: names.contentShare },
    cosmosAccountName: { value: names.cosmosAccount },
    cosmosDatabaseName: { value: names.cosmosDatabase },
    deployerPrincipalId: { value: deployer.principalId },
    keyVaultName: { value: names.keyVault },
    planName: { value: names.plan },
    appName: { value: names.app },
    appSettings: { value: appSettings(topology, names) },
    // The network the LCM creates the VMs in (same name functions/cloud/network.ts derives).
    vnetName: { value: vmNetworkNames(topology.azure.resourceGroup, '').vnet },
  };
}

export function loadTemplate(): Record<string, unknown> {
  return JSON.parse(readFileSync(TEMPLATE_FILE, 'utf8')) as Record<string, unknown>;
}

export interface NamedResource {
  type: string;
  name: string;
  path: string;
  apiVersion: string;
}

/** The resources of infra/lcm.json a dry run reads (app settings and role assignments are not readable by name: see dryRun). */
export function namedResources(n: InfraNames): NamedResource[] {
  const rg = `/subscriptions/${n.subscriptionId}/resourceGroups/${n.resourceGroup}/providers`;
  return [
    { type: 'Microsoft.Storage/storageAccounts', name: n.storageAccount, path: `${rg}/Microsoft.Storage/storageAccounts/${n.storageAccount}`, apiVersion: API.storage },
    { type: 'Microsoft.Storage/storageAccounts/fileServices/shares', name: n.codeShare, path: `${rg}/Microsoft.Storage/storageAccounts/${n.storageAccount}/fileServices/default/shares/${n.codeShare}`, apiVersion: API.storage },
    { type: 'Microsoft.Storage/storageAccounts/fileServices/shares', name: n.contentShare, path: `${rg}/Microsoft.Storage/storageAccounts/${n.storageAccount}/fileServices/default/shares/${n.contentShare}`, apiVersion: API.storage },
    { type: 'Microsoft.DocumentDB/databaseAccounts', name: n.cosmosAccount, path: `${rg}/Microsoft.DocumentDB/databaseAccounts/${n.cosmosAccount}`, apiVersion: API.cosmos },
    { type: 'Microsoft.KeyVault/vaults', name: n.keyVault, path: `${rg}/Microsoft.KeyVault/vaults/${n.keyVault}`, apiVersion: API.keyVault },
    { type: 'Microsoft.KeyVault/vaults/secrets', name: TEMPLATE_SECRETS.storageConnection, path: `${rg}/Microsoft.KeyVault/vaults/${n.keyVault}/secrets/${TEMPLATE_SECRETS.storageConnection}`, apiVersion: API.keyVault },
    { type: 'Microsoft.Web/serverfarms', name: n.plan, path: `${rg}/Microsoft.Web/serverfarms/${n.plan}`, apiVersion: API.web },
    { type: 'Microsoft.Web/sites', name: n.app, path: `${rg}/Microsoft.Web/sites/${n.app}`, apiVersion: API.web },
  ];
}

export const siteId = (n: InfraNames): string => `/subscriptions/${n.subscriptionId}/resourceGroups/${n.resourceGroup}/providers/Microsoft.Web/sites/${n.app}`;
export const vaultId = (n: InfraNames): string => `/subscriptions/${n.subscriptionId}/resourceGroups/${n.resourceGroup}/providers/Microsoft.KeyVault/vaults/${n.keyVault}`;
export const resourceGroupPath = (n: InfraNames): string => `/subscriptions/${n.subscriptionId}/resourcegroups/${n.resourceGroup}`;
