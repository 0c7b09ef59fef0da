/**
 * infra/lcm.json against what Azure requires of it, and the emulated App Service resolving Key
 * Vault references only as App Service does (the secret exists and the app's identity may read it).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../functions/cloud/central-db.js';
import { ArmClient } from '../../bootstrap-cli/azure/arm.js';
import { API, loadTemplate } from '../../bootstrap-cli/azure/infra.js';
import { staticTokenCredential } from '../../functions/cloud/credentials.js';
import { LoopbackPool } from '../../local/azure/addresses.js';
import { LOCAL_RETRY_AFTER_SCALE, startArmEmulator, type ArmEmulator } from '../../local/azure/arm/index.js';
import { generateLocalTls, type LocalTls } from '../../local/azure/tls.js';
import { RecordingHooks } from '../integration/arm/harness.js';

type Resource = { type: string; apiVersion: string; name: string; dependsOn?: string[]; properties?: any; scope?: string };

describe('infra/lcm.json', () => {
  const template = loadTemplate() as { $schema: string; contentVersion: string; resources: Resource[] };
  const byType = (type: string) => template.resources.filter((r) => r.type === type);

  it('has what the deployment template schema requires, every resource a type, an api-version and a name', () => {
    expect(template.$schema).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#');
    expect(template.contentVersion).toMatch(/^(\d+\.){3}\d+$/);
    for (const r of template.resources) {
      expect(r.type, JSON.stringify(r)).toMatch(/^[A-Za-z.]+\/[A-Za-z/]+$/);
      expect(r.apiVersion, r.type).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof r.name, r.type).toBe('string');
    }
  });

  it('uses the api-versions bootstrap-cli reads the same resources with', () => {
    expect(byType('Microsoft.Web/sites')[0]!.apiVersion).toBe(API.web);
    expect(byType('Microsoft.Storage/storageAccounts')[0]!.apiVersion).toBe(API.storage);
    expect(byType('Microsoft.DocumentDB/databaseAccounts')[0]!.apiVersion).toBe(API.cosmos);
    expect(byType('Microsoft.KeyVault/vaults')[0]!.apiVersion).toBe(API.keyVault);
  });

  it('runs the app on Node 22 (Node 20 is past its support in Functions)', () => {
    expect(byType('Microsoft.Web/sites')[0]!.properties.siteConfig.linuxFxVersion).toBe('Node|22');
  });

  it('sets the app settings (Key Vault references) only once the app may read the vault', () => {
    const settings = byType('Microsoft.Web/sites/config').find((r) => r.name.includes('/appsettings'))!;
    const kvRole = byType('Microsoft.Authorization/roleAssignments').find((r) => r.name.includes('key-vault-secrets-user'))!;
    expect(kvRole.scope).toBe("[variables('vaultId')]");
    expect(settings.dependsOn).toContain("[extensionResourceId(variables('vaultId'), 'Microsoft.Authorization/roleAssignments', guid(variables('vaultId'), parameters('appName'), 'key-vault-secrets-user'))]");
  });
});

/**
 * The ARM actions the LCM's adapters need, derived from their source: every SDK operation they call
 * on a resource collection, plus the linked actions ARM checks for what their request bodies
 * reference (a NIC joins a subnet, a public IP and an NSG; a VM joins its NIC and creates its OS
 * disk implicitly; long-running operations are polled on the provider's locations/operations).
 */
function actionsTheCodeNeeds(): string[] {
  const source = ['compute.ts', 'network.ts'].map((f) => readFileSync(new URL(`../../functions/cloud/${f}`, import.meta.url), 'utf8')).join('\n');
  const collections: Record<string, string> = {
    virtualMachines: 'Microsoft.Compute/virtualMachines',
    virtualNetworks: 'Microsoft.Network/virtualNetworks',
    subnets: 'Microsoft.Network/virtualNetworks/subnets',
    networkSecurityGroups: 'Microsoft.Network/networkSecurityGroups',
    publicIPAddresses: 'Microsoft.Network/publicIPAddresses',
    networkInterfaces: 'Microsoft.Network/networkInterfaces',
  };
  const verb = (method: string): string => {
    if (/^get$|^list/.test(method)) return 'read';
    if (/^(begin)?createOrUpdate$/i.test(method)) return 'write';
    if (/^(begin)?delete$/i.test(method)) return 'delete';
    const action = method.replace(/^begin/, '');
    return `${action[0]!.toLowerCase()}${action.slice(1)}/action`;
  };
  const actions = new Set<string>();
  const lroNamespaces = new Set<string>();
  for (const m of source.matchAll(/\b(virtualMachines|virtualNetworks|subnets|networkSecurityGroups|publicIPAddresses|networkInterfaces)\.(\w+)\(/g)) {
    const type = collections[m[1]!]!;
    actions.add(`${type}/${verb(m[2]!)}`);
    if (m[2] !== 'get') lroNamespaces.add(type.split('/')[0]!);
  }
  // Resource groups through the raw pipeline: read only (creating one needs more than the group's scope).
  if (/armRequest\([^)]*'read', 'GET'/.test(source)) actions.add('Microsoft.Resources/subscriptions/resourceGroups/read');
  // Linked authorization for what the bodies reference.
  if (/subnet: \{ id/.test(source)) actions.add('Microsoft.Network/virtualNetworks/subnets/join/action');
  if (/publicIPAddress: \{ id/.test(source)) actions.add('Microsoft.Network/publicIPAddresses/join/action');
  if (/networkSecurityGroup: \{ id/.test(source)) actions.add('Microsoft.Network/networkSecurityGroups/join/action');
  if (/networkInterfaces: \[\{ id/.test(source)) actions.add('Microsoft.Network/networkInterfaces/join/action');
  if (/osDisk: \{.*createOption: 'FromImage'.*managedDisk/.test(source)) {
    for (const a of ['read', 'write', 'delete']) actions.add(`Microsoft.Compute/disks/${a}`);
  }
  for (const ns of lroNamespaces) actions.add(`${ns}/locations/operations/read`);
  return [...actions].sort();
}

describe('infra/lcm.json grants least privilege', () => {
  const template = loadTemplate() as { parameters: Record<string, unknown>; variables: Record<string, string>; resources: Resource[] };
  const byType = (type: string) => template.resources.filter((r) => r.type === type);
  const assignments = byType('Microsoft.Authorization/roleAssignments');
  const BROAD = ['8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'b24988ac-6180-42a0-ab88-20f7382dd24c', '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', '9980e02c-c2be-4d73-94e8-173b1dc7cf3c', '4d97b98b-1d4f-4787-a291-c67834d212e7'];
  /** A role assignment's role definition GUID, through the template's variables. */
  const roleOf = (r: Resource): string => {
    const raw = String(r.properties.roleDefinitionId);
    const viaVariable = /^\[variables\('(\w+)'\)\]$/.exec(raw)?.[1];
    return viaVariable ? template.variables[viaVariable]! : raw;
  };

  it('grants no Owner, Contributor, User Access Administrator, nor the broad VM and Network Contributor roles', () => {
    const text = JSON.stringify(template);
    for (const id of BROAD) expect(text, id).not.toContain(id);
  });

  it('scopes every role assignment to the one resource it needs: the custom role on the group, data roles on the vault, the storage account, the central database', () => {
    const scopes = Object.fromEntries(assignments.map((r) => [roleOf(r), r.scope ?? '(the resource group)']));
    expect(scopes).toEqual({
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('lcmOperatorRoleName'))]": '(the resource group)',
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')]": "[variables('vaultId')]",
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')]": "[variables('storageId')]",
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')]": "[variables('storageId')]",
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')]": "[variables('storageId')]",
    });
    // The Cosmos data role: built-in Data Contributor, on the central database (not the account), for the app and the deployer.
    const sql = byType('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
    expect(sql.map((r) => r.properties.principalId).sort()).toEqual(["[parameters('deployerPrincipalId')]", "[reference(variables('siteId'), '2023-12-01', 'full').identity.principalId]"]);
    for (const r of sql) {
      expect(template.variables[/variables\('(\w+)'\)/.exec(r.properties.roleDefinitionId)![1]!]).toMatch(/\/sqlRoleDefinitions\/00000000-0000-0000-0000-000000000002'\)\]$/);
      expect(r.properties.scope).toBe("[variables('cosmosDataScope')]");
    }
    expect(template.variables['cosmosDataScope']).toMatch(/'\/dbs\/', parameters\('cosmosDatabaseName'\)\)\]$/);
  });

  it("the custom role lists exactly the ARM actions the adapters' code calls, assignable on the resource group only", () => {
    const [role] = byType('Microsoft.Authorization/roleDefinitions');
    expect(role!.properties.type).toBe('CustomRole');
    expect(role!.properties.assignableScopes).toEqual(['[resourceGroup().id]']);
    const [permissions] = role!.properties.permissions as Array<{ actions: string[]; notActions: string[]; dataActions: string[] }>;
    expect([...permissions!.actions].sort()).toEqual(actionsTheCodeNeeds());
    expect(permissions!.actions.some((a) => a.includes('*'))).toBe(false);
    expect(permissions!.dataActions).toEqual([]);
  });

  it('Cosmos DB: local auth off, no key in Key Vault or any app setting, the database and every container the code uses created here', () => {
    const [account] = byType('Microsoft.DocumentDB/databaseAccounts');
    expect(account!.properties.disableLocalAuth).toBe(true);
    expect(JSON.stringify(template)).not.toMatch(/primaryMasterKey|cosmos-key|COSMOS_KEY/i);
    const containers = byType('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers').map((r) => ({ id: r.properties.resource.id, partitionKey: r.properties.resource.partitionKey.paths[0] }));
    expect(containers.sort((a, b) => a.id.localeCompare(b.id))).toEqual(Object.values(CONTAINERS).map((c) => ({ ...c })).sort((a, b) => a.id.localeCompare(b.id)));
  });

  it('no app setting holds an account key: the task hub connects with the identity; the one connection string with a key is a Key Vault secret', () => {
    const settings = byType('Microsoft.Web/sites/config')[0]!;
    expect(String(settings.properties)).not.toMatch(/AccountKey/);
    const secrets = byType('Microsoft.KeyVault/vaults/secrets');
    expect(secrets.map((s) => s.name)).toEqual(["[concat(parameters('keyVaultName'), '/storage-connection')]"]);
    expect(secrets[0]!.properties.value).toMatch(/AccountKey=/);
    // Why the key stays is said where it is kept.
    expect(byType('Microsoft.Storage/storageAccounts')[0]).toHaveProperty('comments', expect.stringMatching(/content share.*SAS/s));
  });
});

describe('Key Vault references in the emulated App Service', () => {
  let tls: LocalTls;
  let arm: ArmEmulator;
  let client: ArmClient;
  const sub = '00000000-0000-0000-0000-0000000000aa';
  const rg = `/subscriptions/${sub}/resourceGroups/rg-kv`;

  beforeAll(async () => {
    tls = generateLocalTls();
    arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks: new RecordingHooks(), retryAfterScale: LOCAL_RETRY_AFTER_SCALE });
    client = new ArmClient({ credential: staticTokenCredential(), endpoint: arm.endpoint, caCert: tls.cert, pollIntervalInMs: 20 });
    await client.put('create group', rg, API.resourceGroup, { location: 'westeurope' });
  });
  afterAll(async () => {
    await arm?.stop();
  });

  const deploy = (withRole: boolean) =>
    client.put('deploy', `${rg}/providers/Microsoft.Resources/deployments/kv`, API.deployment, {
      properties: {
        mode: 'Incremental',
        template: {
          $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
          contentVersion: '1.0.0.0',
          variables: { vaultId: "[resourceId('Microsoft.KeyVault/vaults', 'kv-test')]", siteId: "[resourceId('Microsoft.Web/sites', 'app-test')]" },
          resources: [
            { type: 'Microsoft.KeyVault/vaults', apiVersion: '2023-07-01', name: 'kv-test', location: 'westeurope', properties: { tenantId: "[subscription().tenantId]", sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true } },
            { type: 'Microsoft.KeyVault/vaults/secrets', apiVersion: '2023-07-01', name: 'kv-test/the-secret', dependsOn: ["[variables('vaultId')]"], properties: { value: 's3cret' } },
            { type: 'Microsoft.Web/sites', apiVersion: '2023-12-01', name: 'app-test', location: 'westeurope', kind: 'functionapp,linux', identity: { type: 'SystemAssigned' }, properties: {} },
            ...(withRole
              ? [
                  {
                    type: 'Microsoft.Authorization/roleAssignments',
                    apiVersion: '2022-04-01',
                    name: "[guid(variables('vaultId'), 'app-test')]",
                    scope: "[variables('vaultId')]",
                    dependsOn: ["[variables('siteId')]", "[variables('vaultId')]"],
                    properties: {
                      roleDefinitionId: "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')]",
                      principalId: "[reference(variables('siteId'), '2023-12-01', 'full').identity.principalId]",
                    },
                  },
                ]
              : []),
            {
              type: 'Microsoft.Web/sites/config',
              apiVersion: '2023-12-01',
              name: 'app-test/appsettings',
              dependsOn: ["[variables('siteId')]"],
              properties: { THE_SECRET: '@Microsoft.KeyVault(SecretUri=https://kv-test.vault.azure.net/secrets/the-secret/)', MISSING: '@Microsoft.KeyVault(VaultName=kv-test;SecretName=nope)' },
            },
          ],
        },
      },
    });

  it('without a role for the app on the vault a reference stays the literal reference; with Key Vault Secrets User it resolves', async () => {
    await deploy(false);
    const site = arm.platform.resourceById(`${rg}/providers/Microsoft.Web/sites/app-test`)!.site!;
    expect(arm.platform.appService.effectiveSettings(site)['THE_SECRET']).toBe('@Microsoft.KeyVault(SecretUri=https://kv-test.vault.azure.net/secrets/the-secret/)');
    await deploy(true);
    const settings = arm.platform.appService.effectiveSettings(site);
    expect(settings['THE_SECRET']).toBe('s3cret');
    // A secret that does not exist stays unresolved even with the role.
    expect(settings['MISSING']).toBe('@Microsoft.KeyVault(VaultName=kv-test;SecretName=nope)');
  });

  it('a dependsOn naming nothing in the template is refused like ARM refuses it', async () => {
    await expect(
      client.put('deploy', `${rg}/providers/Microsoft.Resources/deployments/bad`, API.deployment, {
        properties: {
          mode: 'Incremental',
          template: { $schema: 'x', contentVersion: '1.0.0.0', resources: [{ type: 'Microsoft.KeyVault/vaults/secrets', apiVersion: '2023-07-01', name: 'kv-test/s', dependsOn: ["[resourceId('Microsoft.KeyVault/vaults', 'kv-other')]"], properties: { value: 'v' } }] },
        },
      }),
    ).rejects.toThrow(/InvalidTemplate: .*is not defined in the template/);
  });
});

