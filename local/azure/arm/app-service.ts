/**
 * The emulated App Service side of a function app created by a template deployment: its keys, its
 * publish (Kudu) endpoint and its runtime. Each site gets
 *
 * - an HTTP port for the local host (the site's `defaultHostName` is `127.0.0.1:<port>`),
 * - an HTTPS "scm" server of its own (`127.0.0.1:<scmPort>`, the site's Repository hostname) that
 *   answers like Kudu: `POST /api/zipdeploy[?isAsync=true&message=...]`, `GET /api/deployments/latest`,
 *   `GET /api/deployments/{id}/log`; every request needs `Authorization: Bearer ...`,
 * - a runtime: a zip deploy unpacks the package into a fresh folder, checks what the Functions host
 *   needs (host.json at the root, package.json whose `main` exists) and starts the local host on the
 *   unpacked `main` (dist/functions/index.js) with the site's app settings, Key Vault references
 *   resolved as App Service resolves them, plus the platform settings the emulator was bound with
 *   (local stand-ins for managed identity, the ARM endpoint and the CA to trust). A package missing a
 *   file or a production dependency fails its deployment (status 3) with the reason.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalHost, type LocalHost } from '../../host/index.js';
import type { LocalTls } from '../tls.js';
import { extractZip } from './unzip.js';

export interface SiteKeys {
  masterKey: string;
  /** Host keys (Azure's name for them in listKeys: functionKeys): valid on every function. */
  functionKeys: Record<string, string>;
  systemKeys: Record<string, string>;
  /** Function-specific keys: function name (lower case) -> key name -> value. */
  perFunction: Record<string, Record<string, string>>;
}

/** Kudu's deployment record (status 0 pending, 1 building, 3 failed, 4 success). */
export interface KuduDeployment {
  id: string;
  status: number;
  status_text: string;
  message: string;
  author: string;
  deployer: string;
  received_time: string;
  start_time: string;
  end_time?: string;
  complete: boolean;
  active: boolean;
  log_url: string;
  site_name: string;
}

export interface AppServiceLogEntry {
  site: string;
  method: string;
  path: string;
  status: number;
}

export interface SiteRuntime {
  name: string;
  /** 127.0.0.1:<port>: where the local host serves the app once published. */
  defaultHostName: string;
  /** 127.0.0.1:<scmPort>: the publish (Kudu) endpoint. */
  scmHostName: string;
  principalId: string;
  keys: SiteKeys;
  appSettings: Record<string, string>;
  deployments: KuduDeployment[];
  logs: Map<string, Array<{ log_time: string; message: string; type: number }>>;
  host?: LocalHost;
  /** Folder of the package that runs now. */
  wwwroot?: string;
  port: number;
  scm: https.Server;
  busy?: Promise<void>;
}

export interface AppServiceOptions {
  tls: LocalTls;
  /** Where packages are unpacked and task hubs kept; a temporary folder when absent. */
  sitesDir?: () => string | undefined;
  /** Settings the emulated platform adds to every app (bound by startLocalAzure). */
  platformSettings: (principalId: string) => Record<string, string>;
  /** Resolves `@Microsoft.KeyVault(...)` references for this identity against the emulator's vaults; undefined = unresolved. */
  resolveKeyVaultReference: (reference: string, principalId: string) => string | undefined;
  /** Host log sink; default: dropped. */
  hostLog?: (line: string) => void;
}

const MAX_PACKAGE_BYTES = 1024 ** 3;
/** How long an async zip deploy waits in Kudu's queue before it shows as the latest deployment. */
const ASYNC_PICKUP_MS = 500;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class AppServiceEmulator {
  readonly sites = new Map<string, SiteRuntime>();
  readonly log: AppServiceLogEntry[] = [];
  private ownDir?: string;
  private stopped = false;

  constructor(private readonly options: AppServiceOptions) {}

  async createSite(name: string): Promise<SiteRuntime> {
    const port = await freePort();
    const scm = https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key });
    await new Promise<void>((ok, fail) => {
      scm.once('error', fail);
      scm.listen(0, '127.0.0.1', () => ok());
    });
    const site: SiteRuntime = {
      name,
      defaultHostName: `127.0.0.1:${port}`,
      scmHostName: `127.0.0.1:${(scm.address() as AddressInfo).port}`,
      principalId: randomUUID(),
      keys: { masterKey: key(), functionKeys: { default: key() }, systemKeys: { durabletask_extension: key() }, perFunction: {} },
      appSettings: {},
      deployments: [],
      logs: new Map(),
      port,
      scm,
    };
    scm.on('request', (req, res) => void this.serveScm(site, req, res));
    this.sites.set(name.toLowerCase(), site);
    return site;
  }

  site(name: string): SiteRuntime | undefined {
    return this.sites.get(name.toLowerCase());
  }

  /** New app settings: a running app restarts with them (as App Service does). */
  async setAppSettings(site: SiteRuntime, settings: Record<string, string>): Promise<void> {
    site.appSettings = { ...settings };
    if (site.host && site.wwwroot) await this.restart(site, site.wwwroot);
  }

  async setFunctionKey(site: SiteRuntime, name: string, value: string): Promise<void> {
    site.keys.functionKeys[name] = value;
    if (site.host && site.wwwroot) await this.restart(site, site.wwwroot);
  }

  /** The settings the app process sees: KV references resolved, platform settings on top. */
  effectiveSettings(site: SiteRuntime): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(site.appSettings)) {
      // An unresolvable reference stays the literal reference string, as in App Service.
      out[k] = v.startsWith('@Microsoft.KeyVault(') ? (this.options.resolveKeyVaultReference(v, site.principalId) ?? v) : v;
    }
    return {
      ...out,
      ...this.options.platformSettings(site.principalId),
      WEBSITE_HOSTNAME: site.defaultHostName,
      WEBSITE_SITE_NAME: site.name,
      // The app's own address: the monitoring service calls the LCM API there.
      LCM_PUBLIC_API_URL: `http://${site.defaultHostName}`,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const site of this.sites.values()) {
      await site.busy?.catch(() => undefined);
      await site.host?.stop().catch(() => undefined);
      site.host = undefined;
      await new Promise<void>((done) => {
        site.scm.close(() => done());
        site.scm.closeAllConnections();
      });
    }
    if (this.ownDir) await rm(this.ownDir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------ Kudu

  private async serveScm(site: SiteRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      this.log.push({ site: site.name, method, path: url.pathname, status });
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    try {
      if (!/^Bearer \S+/i.test(req.headers['authorization'] ?? '')) {
        req.resume();
        return reply(401, { error: 'Unauthorized: an Entra ID bearer token is required' });
      }
      if (method === 'POST' && url.pathname.toLowerCase() === '/api/zipdeploy') {
        const body = await readBody(req);
        if (this.stopped) return reply(503, { error: 'stopping' });
        const isAsync = url.searchParams.get('isAsync') === 'true';
        const deployment = this.newDeployment(site, url.searchParams.get('message') ?? 'Created via a push deployment', url);
        // Kudu queues an async deployment: until it is picked up, /api/deployments/latest still
        // answers the previous one (complete), so a client must match the deployment it started.
        const previous = site.busy;
        const work = (isAsync ? sleep(ASYNC_PICKUP_MS) : Promise.resolve()).then(() => {
          site.deployments.push(deployment);
          return this.runDeployment(site, deployment, body, previous);
        });
        site.busy = work;
        if (isAsync) {
          return reply(202, undefined, { location: `https://${site.scmHostName}/api/deployments/latest` });
        }
        await work;
        return deployment.status === 4 ? reply(200) : reply(400, { error: deployment.status_text });
      }
      if (method === 'GET' && url.pathname.toLowerCase() === '/api/deployments/latest') {
        req.resume();
        const latest = site.deployments[site.deployments.length - 1];
        return latest ? reply(latest.complete ? 200 : 202, latest) : reply(404, { error: 'no deployment yet' });
      }
      const logMatch = /^\/api\/deployments\/([^/]+)\/log$/i.exec(url.pathname);
      if (method === 'GET' && logMatch) {
        req.resume();
        const entries = site.logs.get(decodeURIComponent(logMatch[1]!));
        return entries ? reply(200, entries) : reply(404, { error: 'no such deployment' });
      }
      req.resume();
      return reply(404, { error: `${method} ${url.pathname} is not modelled by the local publish endpoint` });
    } catch (err) {
      return reply(err instanceof HttpError ? err.status : 500, { error: (err as Error).message });
    }
  }

  private newDeployment(site: SiteRuntime, message: string, url: URL): KuduDeployment {
    const id = randomUUID().replace(/-/g, '');
    const now = new Date().toISOString();
    const deployment: KuduDeployment = {
      id,
      status: 1,
      status_text: 'Building and deploying',
      message,
      author: 'N/A',
      deployer: url.searchParams.get('deployer') ?? 'ZipDeploy',
      received_time: now,
      start_time: now,
      complete: false,
      active: false,
      log_url: `https://${site.scmHostName}/api/deployments/${id}/log`,
      site_name: site.name,
    };
    site.logs.set(id, []);
    return deployment;
  }

  private async runDeployment(site: SiteRuntime, deployment: KuduDeployment, zip: Buffer, previous: Promise<void> | undefined): Promise<void> {
    const log = (message: string, type = 0) => site.logs.get(deployment.id)!.push({ log_time: new Date().toISOString(), message, type });
    try {
      await previous?.catch(() => undefined);
      const dir = join(await this.sitesDir(), site.name, `wwwroot-${site.deployments.length}`);
      await mkdir(dir, { recursive: true });
      log(`Extracting ${zip.length} bytes`);
      const files = await extractZip(zip, dir);
      log(`Extracted ${files.length} files`);
      const missing = async (rel: string) => !(await stat(join(dir, rel)).then((s) => s.isFile(), () => false));
      if (await missing('host.json')) throw new Error('host.json not found at the root of the package: the Functions host would find no function app');
      if (await missing('package.json')) throw new Error('package.json not found at the root of the package: the Node worker cannot find the entry point');
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { main?: string };
      if (!pkg.main) throw new Error('package.json has no "main": the Node worker cannot find the entry point');
      if (await missing(pkg.main)) throw new Error(`package.json "main" is ${pkg.main}, which is not in the package`);
      await this.restart(site, dir);
      log('Deployment successful; the app is running');
      Object.assign(deployment, { status: 4, status_text: '', complete: true, active: true, end_time: new Date().toISOString() });
      for (const d of site.deployments) if (d !== deployment) d.active = false;
    } catch (err) {
      const reason = (err as Error).message;
      log(reason, 2);
      Object.assign(deployment, { status: 3, status_text: `Deployment failed: ${reason}`, complete: true, end_time: new Date().toISOString() });
    }
  }

  /** (Re)starts the app from `wwwroot`; the previous process (if any) stops first. */
  private async restart(site: SiteRuntime, wwwroot: string): Promise<void> {
    await site.host?.stop();
    site.host = undefined;
    const pkg = JSON.parse(await readFile(join(wwwroot, 'package.json'), 'utf8')) as { main: string };
    const entry = pathToFileURL(resolve(wwwroot, pkg.main)).href;
    site.host = await startLocalHost({
      entry,
      port: site.port,
      storeFile: join(await this.sitesDir(), site.name, 'task-hub.sqlite'),
      settings: this.effectiveSettings(site),
      functionKeys: Object.values(site.keys.functionKeys),
      masterKey: site.keys.masterKey,
      functionSecrets: site.keys.perFunction,
      systemKey: site.keys.systemKeys['durabletask_extension'],
      log: this.options.hostLog ?? (() => {}),
    });
    site.wwwroot = wwwroot;
  }

  private async sitesDir(): Promise<string> {
    const bound = this.options.sitesDir?.();
    if (bound) return bound;
    this.ownDir ??= await mkdtemp(join(tmpdir(), 'lcm-sites-'));
    return this.ownDir;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PACKAGE_BYTES) {
        fail(new HttpError(413, 'the package is larger than 1 GiB'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

const key = (): string => randomBytes(30).toString('base64url');

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createNetServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => ok(port));
    });
  });
}
