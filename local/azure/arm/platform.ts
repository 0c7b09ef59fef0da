/**
 * Template deployments and the resources infra/lcm.json creates, for the local ARM emulator:
 *
 * - `PUT .../resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}` (template inline +
 *   parameters) is a long-running operation that evaluates the template (expressions.ts), orders the
 *   resources by dependsOn and creates or updates each: a resource whose evaluated definition did
 *   not change is left alone (same `createdAt`, same `version`), as ARM's incremental mode leaves an
 *   unchanged resource alone. `GET` the deployment for its state and `outputs`.
 * - `GET` any resource a deployment created (by its id, extension resources included).
 * - `POST .../storageAccounts/{a}/listKeys`, `.../databaseAccounts/{a}/listKeys`,
 *   `.../sites/{app}/host/default/listKeys`: the LOCAL emulators' real credentials (bound with
 *   `bindLocalServices`), so what the CLI reads through ARM works against local Files and Cosmos.
 * - `PUT/GET .../vaults/{v}/secrets/{s}` (a secret value through the management plane; the value is
 *   never returned), `PUT .../sites/{app}/host/default/functionKeys/{k}`.
 * - Sites run through the emulated App Service (app-service.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ArmError } from './errors.js';
import { buildResourceId, resolveValue, type ExpressionContext } from './expressions.js';
import type { OperationKind } from './kinds.js';
import type { OperationRunner } from './operations.js';
import { asObject, asString, type ArmState, type JsonObject, type Reply } from './state.js';
import { AppServiceEmulator, type AppServiceLogEntry, type SiteRuntime } from './app-service.js';
import type { LocalTls } from '../tls.js';

/** What the emulator hands out for the accounts a template creates: the local emulators' endpoints and keys. */
export interface LocalServiceBindings {
  /** The local File endpoint: a template's storage account must carry this account name. */
  storage?: { accountName: string; accountKey: string; fileEndpoint: string };
  cosmos?: {
    endpoint: string;
    key: string;
    /** Creates a database and containers in the local Cosmos DB, as the resource provider does for sqlDatabases/containers. */
    provision?: (schema: { database: string; containers: Array<{ id: string; partitionKey: string }> }) => Promise<void>;
  };
  /** App Service's managed identity settings (IDENTITY_ENDPOINT, IDENTITY_HEADER) for a site's identity. */
  identitySettings?: (principalId: string) => Record<string, string>;
  /** Settings the emulated App Service adds to every app (ARM endpoint, static token, CA, SSH port...). */
  platformSettings?: Record<string, string>;
  /** Where deployed packages are unpacked (default: a temporary folder removed on stop). */
  sitesDir?: string;
  /** Host log lines of the deployed apps. */
  hostLog?: (line: string) => void;
}

export interface PlatformResource {
  id: string;
  /** Full name as in the template (`account/default/share`). */
  name: string;
  type: string;
  apiVersion: string;
  /** The evaluated definition (what decides "unchanged"). */
  spec: JsonObject;
  createdAt: string;
  changedAt: string;
  /** Bumped on every change; 1 when created. */
  version: number;
  /** Generated account keys when no local service is bound. */
  keys?: string[];
  site?: SiteRuntime;
}

export interface DeploymentRecord {
  id: string;
  name: string;
  sub: string;
  rg: string;
  provisioningState: 'Accepted' | 'Running' | 'Succeeded' | 'Failed';
  timestamp: string;
  /** When the deployment was accepted (its duration runs from here). */
  startedAt: string;
  correlationId: string;
  /** The parameters as ARM reports them: `{ type, value }`, secure ones without their value. */
  parameters: Record<string, { type: string; value?: unknown }>;
  outputs?: Record<string, { type: string; value: unknown }>;
  outputResources: string[];
  /** Per resource id: what this deployment did. */
  changes: Record<string, 'created' | 'updated' | 'unchanged'>;
  error?: { code: string; message: string };
}

const NAMESPACES = new Set(['microsoft.storage', 'microsoft.documentdb', 'microsoft.keyvault', 'microsoft.web', 'microsoft.authorization', 'microsoft.resources']);
const TENANT_ID = '11111111-1111-1111-1111-111111111111';

export class ArmPlatform {
  readonly resources = new Map<string, PlatformResource>();
  readonly deployments = new Map<string, DeploymentRecord>();
  readonly appService: AppServiceEmulator;
  private bindings: LocalServiceBindings = {};

  constructor(
    private readonly state: ArmState,
    private readonly ops: OperationRunner,
    tls: LocalTls,
  ) {
    this.appService = new AppServiceEmulator({
      tls,
      sitesDir: () => this.bindings.sitesDir,
      platformSettings: (principalId) => ({ ...(this.bindings.identitySettings?.(principalId) ?? {}), ...(this.bindings.platformSettings ?? {}) }),
      resolveKeyVaultReference: (ref, principalId) => this.resolveKeyVaultReference(ref, principalId),
      hostLog: (line) => this.bindings.hostLog?.(line),
    });
  }

  bind(bindings: LocalServiceBindings): void {
    this.bindings = { ...this.bindings, ...bindings };
  }

  /** True for request paths this module answers (its resource providers below a resource group). */
  handles(pathname: string): boolean {
    const seg = segments(pathname).map((s) => s.toLowerCase());
    return seg[0] === 'subscriptions' && seg[2] === 'resourcegroups' && seg[4] === 'providers' && NAMESPACES.has(seg[5] ?? '');
  }

  classify(method: string, pathname: string): OperationKind {
    const lower = pathname.toLowerCase();
    if (lower.endsWith('/listkeys')) return 'keys.list';
    if (/\/providers\/microsoft\.resources\/deployments\//.test(lower)) return method === 'PUT' ? 'deployment.write' : 'deployment.read';
    return method === 'GET' || method === 'HEAD' ? 'platform.read' : 'platform.write';
  }

  async handle(method: string, pathname: string, body: JsonObject | undefined): Promise<Reply> {
    const seg = segments(pathname);
    const sub = seg[1]!;
    const rg = seg[3]!;
    const lower = seg.map((s) => s.toLowerCase());
    if (lower[5] === 'microsoft.resources' && lower[6] === 'deployments' && seg.length === 8) {
      if (method === 'PUT') return this.putDeployment(sub, rg, seg[7]!, body);
      if (method === 'GET') return this.getDeployment(sub, rg, seg[7]!);
      throw new ArmError(405, 'MethodNotAllowed', `${method} is not supported on deployments.`);
    }
    if (method === 'POST' && lower[lower.length - 1] === 'listkeys') return this.listKeys(seg.slice(0, -1).join('/'));
    // .../sites/{app}/host/default/functionKeys/{name}
    if (method === 'PUT' && lower[6] === 'sites' && lower[8] === 'host' && lower[10] === 'functionkeys' && seg.length === 12) {
      return this.putFunctionKey(sub, rg, seg[7]!, seg[11]!, body);
    }
    // .../sites/{app}/functions/{function}/keys/{name}: a key valid on that one function
    if (method === 'PUT' && lower[6] === 'sites' && lower[8] === 'functions' && lower[10] === 'keys' && seg.length === 12) {
      return this.putFunctionSecret(sub, rg, seg[7]!, seg[9]!, seg[11]!, body);
    }
    // .../vaults/{v}/secrets/{s}
    if (method === 'PUT' && lower[6] === 'vaults' && lower[8] === 'secrets' && seg.length === 10) {
      return this.putSecret(sub, rg, seg[7]!, seg[9]!, body);
    }
    if (method === 'GET' || method === 'HEAD') {
      this.state.requireResourceGroup(sub, rg);
      const resource = this.resources.get(idKey('/' + seg.join('/')));
      if (!resource) throw new ArmError(404, 'ResourceNotFound', `The Resource '${seg.slice(5).join('/')}' under resource group '${rg}' was not found.`);
      return { status: method === 'HEAD' ? 204 : 200, body: method === 'HEAD' ? undefined : this.view(resource) };
    }
    throw new ArmError(400, 'InvalidResourceType', `${method} ${pathname} is not modelled by the local ARM emulator.`);
  }

  /** Resources and deployments of this emulator as a test sees them. */
  resourceById(id: string): PlatformResource | undefined {
    return this.resources.get(idKey(id));
  }

  get appServiceLog(): AppServiceLogEntry[] {
    return [...this.appService.log];
  }

  async stop(): Promise<void> {
    await this.appService.stop();
  }

  // ------------------------------------------------------------ deployments

  private putDeployment(sub: string, rg: string, name: string, body: JsonObject | undefined): Reply {
    const group = this.state.requireResourceGroup(sub, rg);
    const props = asObject(body?.['properties']);
    const template = asObject(props?.['template']);
    if (!template) throw new ArmError(400, 'InvalidRequestContent', 'properties.template is required (templateLink is not modelled).');
    if (asString(props?.['mode']) && asString(props?.['mode']) !== 'Incremental') throw new ArmError(400, 'InvalidDeploymentMode', 'Only Incremental mode is modelled.');
    const id = `/subscriptions/${sub}/resourceGroups/${group.name}/providers/Microsoft.Resources/deployments/${name}`;
    const existing = this.deployments.get(idKey(id));
    if (existing && (existing.provisioningState === 'Accepted' || existing.provisioningState === 'Running')) {
      throw new ArmError(409, 'DeploymentActive', `The deployment '${name}' is still running; wait for it to finish.`);
    }
    const parameters = asObject(props?.['parameters']) ?? {};
    const now = new Date().toISOString();
    const record: DeploymentRecord = {
      id,
      name,
      sub,
      rg: group.name,
      provisioningState: 'Accepted',
      timestamp: now,
      startedAt: now,
      correlationId: randomUUID(),
      parameters: reportedParameters(asObject(template['parameters']) ?? {}, parameters),
      outputResources: [],
      changes: {},
    };
    this.deployments.set(idKey(id), record);
    const op = this.ops.start({
      sub,
      namespace: 'Microsoft.Resources',
      location: group.location,
      kind: 'deployment.write',
      resourceName: name,
      work: async () => {
        record.provisioningState = 'Running';
        await this.apply(record, group.location, template, parameters);
        record.provisioningState = 'Succeeded';
        record.timestamp = new Date().toISOString();
      },
      onFailed: (error) => {
        record.provisioningState = 'Failed';
        record.error = error;
      },
    });
    return { status: existing ? 200 : 201, headers: this.ops.headers(op, false), body: this.deploymentView(record) };
  }

  private getDeployment(sub: string, rg: string, name: string): Reply {
    this.state.requireResourceGroup(sub, rg);
    const record = this.deployments.get(idKey(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Resources/deployments/${name}`));
    if (!record) throw new ArmError(404, 'DeploymentNotFound', `Deployment '${name}' could not be found.`);
    return { status: 200, body: this.deploymentView(record) };
  }

  private deploymentView(record: DeploymentRecord): JsonObject {
    return {
      id: record.id,
      name: record.name,
      type: 'Microsoft.Resources/deployments',
      properties: {
        provisioningState: record.provisioningState,
        mode: 'Incremental',
        timestamp: record.timestamp,
        duration: isoDuration(Date.parse(record.timestamp) - Date.parse(record.startedAt)),
        correlationId: record.correlationId,
        parameters: record.parameters,
        ...(record.outputs ? { outputs: record.outputs } : {}),
        outputResources: record.outputResources.map((id) => ({ id })),
        ...(record.error ? { error: record.error } : {}),
      },
    };
  }

  private async apply(record: DeploymentRecord, location: string, template: JsonObject, given: JsonObject): Promise<void> {
    const ctx: ExpressionContext = {
      sub: record.sub,
      rg: record.rg,
      location,
      tenantId: TENANT_ID,
      parameters: {},
      variables: {},
      reference: (id, full) => {
        const r = this.resources.get(idKey(id));
        if (!r) throw new ArmError(404, 'ResourceNotFound', `reference('${id}'): the resource does not exist (missing dependsOn?).`);
        const view = this.view(r);
        return full ? view : view['properties'];
      },
      listKeys: (id) => this.keysOf(id),
    };
    const declared = asObject(template['parameters']) ?? {};
    for (const [name, decl] of Object.entries(declared)) {
      const value = asObject(given[name])?.['value'];
      if (value !== undefined) ctx.parameters[name] = value;
      else if (asObject(decl)?.['defaultValue'] !== undefined) ctx.parameters[name] = resolveValue(asObject(decl)!['defaultValue'], ctx);
      else throw new ArmError(400, 'InvalidTemplate', `The template parameter '${name}' has no value and no default.`);
    }
    for (const name of Object.keys(given)) {
      if (!(name in declared)) throw new ArmError(400, 'InvalidTemplate', `The parameter '${name}' is not defined in the template.`);
    }
    for (const [name, value] of Object.entries(asObject(template['variables']) ?? {})) ctx.variables[name] = resolveValue(value, ctx);

    const planned = (Array.isArray(template['resources']) ? template['resources'] : []).map((raw, index) => {
      const r = asObject(raw);
      if (!r) throw new ArmError(400, 'InvalidTemplate', `resources[${index}] is not an object.`);
      const type = asString(r['type']);
      const name = asString(resolveValue(r['name'], ctx));
      if (!type || !name) throw new ArmError(400, 'InvalidTemplate', `resources[${index}] needs a type and a name.`);
      const scope = r['scope'] === undefined ? undefined : asString(resolveValue(r['scope'], ctx));
      const id = scope
        ? `${scope}/providers/${type}/${name}`
        : buildResourceId(`/subscriptions/${record.sub}/resourceGroups/${record.rg}`, type, name.split('/'));
      const dependsOn = (Array.isArray(r['dependsOn']) ? r['dependsOn'] : []).map((d) => String(resolveValue(d, ctx)));
      return { raw: r, type, name, id, dependsOn };
    });
    // ARM refuses a dependsOn naming nothing in the template (validation, before any resource is touched).
    for (const p of planned) {
      for (const d of p.dependsOn) {
        if (!planned.some((q) => idKey(q.id) === idKey(d))) {
          throw new ArmError(400, 'InvalidTemplate', `Deployment template validation failed: 'The resource '${d}' is not defined in the template. Please see https://aka.ms/arm-syntax for usage details.'`);
        }
      }
    }
    // Order by dependsOn (ARM runs independent resources in parallel; the order among them does not matter here).
    const done = new Set<string>();
    const pending = [...planned];
    while (pending.length > 0) {
      const next = pending.findIndex((p) => p.dependsOn.every((d) => done.has(idKey(d)) || !planned.some((q) => idKey(q.id) === idKey(d))));
      if (next < 0) throw new ArmError(400, 'InvalidTemplate', `Circular dependsOn among: ${pending.map((p) => p.name).join(', ')}.`);
      const item = pending.splice(next, 1)[0]!;
      const spec: JsonObject = {};
      for (const field of ['location', 'kind', 'sku', 'identity', 'tags', 'properties']) {
        if (item.raw[field] !== undefined) spec[field] = resolveValue(item.raw[field], ctx);
      }
      const change = await this.upsert(item.id, item.type, item.name, asString(item.raw['apiVersion']) ?? '', spec);
      record.changes[item.id] = change;
      record.outputResources.push(item.id);
      done.add(idKey(item.id));
    }
    const outputs: Record<string, { type: string; value: unknown }> = {};
    for (const [name, decl] of Object.entries(asObject(template['outputs']) ?? {})) {
      const o = asObject(decl) ?? {};
      outputs[name] = { type: asString(o['type']) ?? 'string', value: resolveValue(o['value'], ctx) };
    }
    record.outputs = outputs;
  }

  private async upsert(id: string, type: string, name: string, apiVersion: string, spec: JsonObject): Promise<'created' | 'updated' | 'unchanged'> {
    const key = idKey(id);
    const existing = this.resources.get(key);
    const lowerType = type.toLowerCase();
    if (lowerType === 'microsoft.storage/storageaccounts') this.checkStorageBinding(name);
    if (existing && stable(existing.spec) === stable(spec)) return 'unchanged';
    const now = new Date().toISOString();
    const resource: PlatformResource = existing
      ? { ...existing, spec, apiVersion, changedAt: now, version: existing.version + 1 }
      : { id, name, type, apiVersion, spec, createdAt: now, changedAt: now, version: 1 };
    if (!existing && lowerType === 'microsoft.web/sites') resource.site = await this.appService.createSite(name);
    await this.provisionCosmos(lowerType, name, spec);
    this.resources.set(key, resource);
    if (lowerType === 'microsoft.web/sites/config' && name.toLowerCase().endsWith('/appsettings')) {
      const site = this.siteResource(id.split('/').slice(0, -2).join('/'));
      const settings = Object.fromEntries(Object.entries(asObject(spec['properties']) ?? {}).map(([k, v]) => [k, String(v)]));
      await this.appService.setAppSettings(site, settings);
    }
    return existing ? 'updated' : 'created';
  }

  /** sqlDatabases and their containers exist in the bound local Cosmos DB once deployed (the data plane may not create them with Entra tokens). */
  private async provisionCosmos(lowerType: string, name: string, spec: JsonObject): Promise<void> {
    const provision = this.bindings.cosmos?.provision;
    if (!provision) return;
    const parts = name.split('/');
    if (lowerType === 'microsoft.documentdb/databaseaccounts/sqldatabases' && parts.length === 2) {
      await provision({ database: parts[1]!, containers: [] });
    } else if (lowerType === 'microsoft.documentdb/databaseaccounts/sqldatabases/containers' && parts.length === 3) {
      const resource = asObject(asObject(spec['properties'])?.['resource']);
      const paths = asObject(resource?.['partitionKey'])?.['paths'];
      const partitionKey = Array.isArray(paths) && typeof paths[0] === 'string' ? paths[0] : undefined;
      if (!partitionKey) throw new ArmError(400, 'BadRequest', `Container '${name}' needs properties.resource.partitionKey.paths.`);
      await provision({ database: parts[1]!, containers: [{ id: parts[2]!, partitionKey }] });
    }
  }

  private checkStorageBinding(name: string): void {
    const bound = this.bindings.storage;
    if (bound && bound.accountName.toLowerCase() !== name.toLowerCase()) {
      throw new ArmError(
        400,
        'LocalStorageAccountMismatch',
        `The template creates storage account '${name}', but the local File endpoint serves account '${bound.accountName}': start local Azure with storageAccount '${name}'.`,
      );
    }
  }

  // ------------------------------------------------------------ views, keys, secrets

  private view(r: PlatformResource): JsonObject {
    const props = { ...(asObject(r.spec['properties']) ?? {}) };
    const type = r.type.toLowerCase();
    const leaf = r.name.split('/').pop()!;
    const extra: JsonObject = {};
    if (type === 'microsoft.storage/storageaccounts') {
      const file = this.bindings.storage ? withSlash(this.bindings.storage.fileEndpoint) : `https://${leaf}.file.core.windows.net/`;
      // Only the File service is emulated; the other endpoints are where Azure would put them.
      props['primaryEndpoints'] = { blob: `https://${leaf}.blob.core.windows.net/`, queue: `https://${leaf}.queue.core.windows.net/`, table: `https://${leaf}.table.core.windows.net/`, file };
    } else if (type === 'microsoft.documentdb/databaseaccounts') {
      props['documentEndpoint'] = this.bindings.cosmos?.endpoint ?? `https://${leaf}.documents.azure.com:443/`;
    } else if (type === 'microsoft.keyvault/vaults') {
      props['vaultUri'] = `https://${leaf}.vault.azure.net/`;
    } else if (type === 'microsoft.keyvault/vaults/secrets') {
      delete props['value']; // ARM never returns a secret's value
      const vault = r.name.split('/')[0]!;
      const uri = `https://${vault}.vault.azure.net/secrets/${leaf}`;
      // SecretProperties (2023-07-01): attributes in Unix seconds, a URI per version; no provisioningState.
      Object.assign(props, {
        attributes: { enabled: true, created: unixSeconds(r.createdAt), updated: unixSeconds(r.changedAt) },
        secretUri: uri,
        secretUriWithVersion: `${uri}/${createHash('sha256').update(`${r.id}#${r.version}`).digest('hex').slice(0, 32)}`,
      });
      // A secret is in its vault's region.
      const vaultResource = this.resources.get(idKey(r.id.replace(/\/secrets\/[^/]+$/i, '')));
      if (r.spec['location'] === undefined && vaultResource?.spec['location'] !== undefined) extra['location'] = vaultResource.spec['location'];
    } else if (type === 'microsoft.web/sites' && r.site) {
      Object.assign(props, {
        state: 'Running',
        enabled: true,
        usageState: 'Normal',
        availabilityState: 'Normal',
        resourceGroup: r.id.split('/')[4],
        hostNames: [r.site.defaultHostName],
        defaultHostName: r.site.defaultHostName,
        enabledHostNames: [r.site.defaultHostName, r.site.scmHostName],
        hostNameSslStates: [
          { name: r.site.defaultHostName, hostType: 'Standard', sslState: 'Disabled' },
          { name: r.site.scmHostName, hostType: 'Repository', sslState: 'Disabled' },
        ],
      });
      extra['identity'] = { type: 'SystemAssigned', principalId: r.site.principalId, tenantId: TENANT_ID };
    }
    if (!('provisioningState' in props) && type !== 'microsoft.keyvault/vaults/secrets') props['provisioningState'] = 'Succeeded';
    return {
      id: r.id,
      name: leaf,
      type: r.type,
      ...(r.spec['location'] !== undefined ? { location: r.spec['location'] } : {}),
      ...(r.spec['kind'] !== undefined ? { kind: r.spec['kind'] } : {}),
      ...(r.spec['sku'] !== undefined ? { sku: r.spec['sku'] } : {}),
      ...(r.spec['tags'] !== undefined ? { tags: r.spec['tags'] } : {}),
      ...(r.spec['identity'] !== undefined ? { identity: r.spec['identity'] } : {}),
      ...extra,
      systemData: { createdAt: r.createdAt, lastModifiedAt: r.changedAt },
      properties: props,
    };
  }

  private keysOf(id: string): JsonObject {
    const r = this.resources.get(idKey(id));
    if (!r) throw new ArmError(404, 'ResourceNotFound', `The Resource '${id}' was not found.`);
    const type = r.type.toLowerCase();
    if (type === 'microsoft.storage/storageaccounts') {
      const value = this.bindings.storage?.accountKey ?? (r.keys ??= [randomBytes(64).toString('base64')])[0]!;
      return { keys: [{ keyName: 'key1', value, permissions: 'FULL' }] };
    }
    if (type === 'microsoft.documentdb/databaseaccounts') {
      const value = this.bindings.cosmos?.key ?? (r.keys ??= [randomBytes(64).toString('base64')])[0]!;
      return { primaryMasterKey: value, secondaryMasterKey: value, primaryReadonlyMasterKey: value, secondaryReadonlyMasterKey: value };
    }
    throw new ArmError(400, 'InvalidResourceType', `listKeys is not modelled for '${r.type}'.`);
  }

  private listKeys(resourcePath: string): Reply {
    const id = '/' + resourcePath;
    // .../sites/{app}/host/default
    const host = /^(.*\/providers\/Microsoft\.Web\/sites\/[^/]+)\/host\/default$/i.exec(id);
    if (host) {
      const site = this.siteResource(host[1]!);
      assertHostRuntime(site);
      return { status: 200, body: { masterKey: site.keys.masterKey, functionKeys: { ...site.keys.functionKeys }, systemKeys: { ...site.keys.systemKeys } } };
    }
    // .../sites/{app}/functions/{function}: that function's own keys (a StringDictionary)
    const fn = /^(.*\/providers\/Microsoft\.Web\/sites\/[^/]+)\/functions\/([^/]+)$/i.exec(id);
    if (fn) {
      const site = this.siteResource(fn[1]!);
      const name = this.functionOf(site, fn[2]!);
      return { status: 200, body: { id, name, type: 'Microsoft.Web/sites/functions/keys', properties: { ...(site.keys.perFunction[name.toLowerCase()] ?? {}) } } };
    }
    return { status: 200, body: this.keysOf(id) };
  }

  /** The function's registered name; 404 when the published app has no such function (as on Azure). */
  private functionOf(site: SiteRuntime, fn: string): string {
    const reg = site.host?.registrations.find((r) => r.name.toLowerCase() === fn.toLowerCase());
    if (!reg) throw new ArmError(404, 'NotFound', `Function '${fn}' of app '${site.name}' was not found: publish the app first.`);
    return reg.name;
  }

  private async putFunctionSecret(sub: string, rg: string, app: string, fn: string, keyName: string, body: JsonObject | undefined): Promise<Reply> {
    const site = this.siteResource(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Web/sites/${app}`);
    const name = this.functionOf(site, fn);
    const props = asObject(body?.['properties']) ?? body;
    const value = asString(props?.['value']) ?? randomBytes(30).toString('base64url');
    const own = (site.keys.perFunction[name.toLowerCase()] ??= {});
    const existed = keyName in own;
    own[keyName] = value;
    // Like the Functions host: a new function key is valid at once, without a restart.
    site.host?.setFunctionKey(name, keyName, value);
    return { status: existed ? 200 : 201, body: { name: keyName, value } };
  }

  private async putFunctionKey(sub: string, rg: string, app: string, name: string, body: JsonObject | undefined): Promise<Reply> {
    const site = this.siteResource(`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Web/sites/${app}`);
    assertHostRuntime(site);
    const value = asString(asObject(body?.['properties'])?.['value']) ?? randomBytes(30).toString('base64url');
    const existed = name in site.keys.functionKeys;
    await this.appService.setFunctionKey(site, name, value);
    return { status: existed ? 200 : 201, body: { name, value } };
  }

  private putSecret(sub: string, rg: string, vault: string, name: string, body: JsonObject | undefined): Reply {
    this.state.requireResourceGroup(sub, rg);
    const vaultId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${vault}`;
    if (!this.resources.get(idKey(vaultId))) throw new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.KeyVault/vaults/${vault}' under resource group '${rg}' was not found.`);
    const value = asString(asObject(body?.['properties'])?.['value']);
    if (value === undefined) throw new ArmError(400, 'BadRequest', 'properties.value is required.');
    const id = `${vaultId}/secrets/${name}`;
    const existing = this.resources.get(idKey(id));
    const now = new Date().toISOString();
    const spec = { properties: { value } };
    const resource: PlatformResource = existing
      ? // Key Vault makes a new version on every set, the same value or not.
        { ...existing, spec, changedAt: now, version: existing.version + 1 }
      : { id, name: `${vault}/${name}`, type: 'Microsoft.KeyVault/vaults/secrets', apiVersion: '', spec, createdAt: now, changedAt: now, version: 1 };
    this.resources.set(idKey(id), resource);
    return { status: existing ? 200 : 201, body: this.view(resource) };
  }

  /** A role assignment for `principalId` that reads secrets, at the vault's scope or a scope above it. */
  private canReadSecrets(principalId: string, vaultId: string): boolean {
    const vault = idKey(vaultId);
    for (const r of this.resources.values()) {
      if (r.type.toLowerCase() !== 'microsoft.authorization/roleassignments') continue;
      const props = asObject(r.spec['properties']);
      if (asString(props?.['principalId']) !== principalId) continue;
      const role = (asString(props?.['roleDefinitionId']) ?? '').toLowerCase();
      if (!SECRET_READER_ROLES.some((g) => role.endsWith(`/${g}`))) continue;
      const scope = idKey(r.id).split('/providers/microsoft.authorization/roleassignments/')[0]!;
      if (vault === scope || vault.startsWith(`${scope}/`)) return true;
    }
    return false;
  }

  private siteResource(siteId: string): SiteRuntime {
    const site = this.resources.get(idKey(siteId))?.site;
    if (!site) throw new ArmError(404, 'ResourceNotFound', `The site '${siteId.split('/').pop()}' was not found.`);
    return site;
  }

  /** `@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s/)` or `(VaultName=v;SecretName=s)`. */
  private resolveKeyVaultReference(reference: string, principalId: string): string | undefined {
    const inner = /^@Microsoft\.KeyVault\((.*)\)$/.exec(reference.trim())?.[1];
    if (!inner) return undefined;
    const fields = Object.fromEntries(inner.split(';').map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()]));
    let vault: string | undefined = fields['vaultname'];
    let secret: string | undefined = fields['secretname'];
    if (fields['secreturi']) {
      const m = /^https:\/\/([^./]+)\.vault\.azure\.net\/secrets\/([^/]+)/i.exec(fields['secreturi']);
      vault = m?.[1];
      secret = m?.[2];
    }
    if (!vault || !secret) return undefined;
    // Key Vault (RBAC) answers 403 until the identity holds a role that reads secrets on the vault or above.
    const vaultResource = [...this.resources.values()].find((r) => r.type.toLowerCase() === 'microsoft.keyvault/vaults' && r.name.toLowerCase() === vault!.toLowerCase());
    if (!vaultResource || !this.canReadSecrets(principalId, vaultResource.id)) return undefined;
    for (const r of this.resources.values()) {
      if (r.type.toLowerCase() === 'microsoft.keyvault/vaults/secrets' && r.name.toLowerCase() === `${vault}/${secret}`.toLowerCase()) {
        return asString(asObject(r.spec['properties'])?.['value']);
      }
    }
    return undefined;
  }
}

/**
 * The host keys live in the Functions host: with WEBSITE_RUN_FROM_PACKAGE=1 and no package
 * deployed there is no host, and App Service answers 400 with this body (azure-functions-host#5722;
 * App Service spells its error fields with capitals).
 */
function assertHostRuntime(site: SiteRuntime): void {
  if (site.host && site.wwwroot) return;
  const message = 'Encountered an error (ServiceUnavailable) from host runtime.';
  throw new ArmError(400, 'BadRequest', message, undefined, {
    Code: 'BadRequest',
    Message: message,
    Target: null,
    Details: [{ Message: message }, { Code: 'BadRequest' }, { ErrorEntity: { Code: 'BadRequest', Message: message } }],
    Innererror: null,
  });
}

/** Built-in roles that read secret values: Key Vault Secrets User, Secrets Officer, Administrator. */
const SECRET_READER_ROLES = ['4633458b-17de-408a-b874-0445c86b69e6', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7', '00482a5a-887f-4fb3-b363-3b7fe8e74483'];

const segments = (pathname: string): string[] => pathname.split('/').filter((s) => s.length > 0).map((s) => decodeURIComponent(s));
const idKey = (id: string): string => id.toLowerCase().replace(/\/+$/, '');
const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

/** JSON with sorted keys: "did the definition change" must not depend on key order. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as JsonObject)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as JsonObject)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** ARM's parameter types as a deployment reports them (`securestring` → `SecureString`). */
const PARAMETER_TYPES: Record<string, string> = { string: 'String', securestring: 'SecureString', int: 'Int', bool: 'Bool', object: 'Object', secureobject: 'SecureObject', array: 'Array' };

/** The given parameters as ARM reports them back: typed, and a secure one never with its value. */
function reportedParameters(declared: JsonObject, given: JsonObject): Record<string, { type: string; value?: unknown }> {
  const out: Record<string, { type: string; value?: unknown }> = {};
  for (const [name, entry] of Object.entries(given)) {
    const declaredType = asString(asObject(declared[name])?.['type'])?.toLowerCase() ?? 'string';
    const type = PARAMETER_TYPES[declaredType] ?? declaredType;
    out[name] = type.startsWith('Secure') ? { type } : { type, value: asObject(entry)?.['value'] };
  }
  return out;
}

/** ISO 8601 duration, as ARM writes a deployment's (`PT22.8356799S`). */
function isoDuration(ms: number): string {
  return `PT${(Math.max(0, ms) / 1000).toFixed(3)}S`;
}

function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}
