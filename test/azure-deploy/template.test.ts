/**
 * infra/lcm.json against what Azure requires of it, and the emulated App Service resolving Key
 * Vault references only as App Service does (the secret exists and the app's identity may read it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

