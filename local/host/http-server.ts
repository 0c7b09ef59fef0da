/**
 * The HTTP front: `/api/<route>` runs HTTP triggers with `@azure/functions` request/response
 * objects and key checks like the Functions host; the durable webhook prefix and the rpc prefix
 * serve the Durable extension's API.
 */
import http from 'node:http';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import { compileRoute, matchRoute, type CompiledRoute } from './routes.js';
import type { Registration } from './registry.js';
import type { DurableEngine } from './engine.js';
import { handleDurableApi, type ApiResponse } from './durable-api.js';
import { WEBHOOK_PREFIX, type ClientData } from './client-data.js';

export interface HttpFrontOptions {
  registrations: Registration[];
  engine: DurableEngine;
  /** Host keys: valid on every function with authLevel function. */
  functionKeys: string[];
  /** Valid everywhere, and the only key for authLevel admin and the /admin API. */
  masterKey: string;
  /** Function-specific keys, as Azure keeps them: function name (any case) -> key name -> value. */
  functionSecrets: Map<string, Map<string, string>>;
  systemKey: string;
  /** Secret path segment of the rpc endpoint (the SDK's rpcBaseUrl), standing in for Azure's loopback-only channel. */
  rpcToken: string;
  clientData: () => ClientData;
  log: (line: string) => void;
}

interface HttpRoute {
  reg: Registration;
  compiled: CompiledRoute;
}

const MAX_BODY = 32 * 1024 * 1024;
// Default import: the package is a webpack CJS bundle whose classes Node cannot see as named ESM exports.
const { HttpRequest, HttpResponse, InvocationContext } = azureFunctions;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, r: ApiResponse): void {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload: Buffer | undefined;
  if (r.body !== undefined) {
    payload = Buffer.from(JSON.stringify(r.body));
    headers['Content-Type'] = 'application/json; charset=utf-8';
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

function presentedKey(req: http.IncomingMessage, url: URL): string | undefined {
  const h = req.headers['x-functions-key'];
  const header = Array.isArray(h) ? h[0] : h;
  return header ?? url.searchParams.get('code') ?? undefined;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether `presented` is one of `accepted`, in time independent of where the strings differ:
 * fixed-length digests compared with timingSafeEqual, and every candidate compared (no early exit).
 */
export function keyMatches(presented: string | undefined, accepted: readonly string[]): boolean {
  if (presented === undefined || presented === '') return false;
  const p = digest(presented);
  let found = false;
  for (const candidate of accepted) if (timingSafeEqual(p, digest(candidate)) && candidate !== '') found = true;
  return found;
}

/** Decoded path segments, or undefined when one holds a malformed escape (the caller answers 400). */
function decodeSegments(path: string): string[] | undefined {
  try {
    return path.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

const badEscape = (): ApiResponse => ({ status: 400, body: { message: 'The path holds a malformed percent-escape.' } });

export function createHttpFront(opts: HttpFrontOptions): http.Server {
  const routes: HttpRoute[] = opts.registrations
    .filter((r) => r.kind === 'http')
    .map((reg) => ({ reg, compiled: compileRoute(reg.route as string) }))
    .sort((a, b) => a.compiled.specificity - b.compiled.specificity);
  const rpcPrefix = `/durabletask/${opts.rpcToken}`;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;

    const durable = path.startsWith(WEBHOOK_PREFIX + '/') ? WEBHOOK_PREFIX : path.startsWith(rpcPrefix + '/') ? rpcPrefix : undefined;
    if (durable) {
      // As on Azure: the webhooks take the extension's system key (or the master key), never a function key.
      if (durable === WEBHOOK_PREFIX && !keyMatches(presentedKey(req, url), [opts.systemKey, opts.masterKey])) {
        req.resume();
        return send(res, { status: 401, body: { message: 'The durable task API needs the system key as the "code" query parameter (or x-functions-key header).' } });
      }
      const segments = decodeSegments(path.slice(durable.length + 1));
      if (!segments) {
        req.resume();
        return send(res, badEscape());
      }
      const body = (await readBody(req)).toString('utf8');
      return send(res, handleDurableApi(opts.engine, method, segments, url.searchParams, body, opts.clientData()));
    }

    if (path === '/api' || path.startsWith('/api/')) {
      const sub = path.slice(4) || '/';
      let found: { route: HttpRoute; params: Record<string, string> } | undefined;
      for (const route of routes) {
        if (!route.reg.methods?.includes(method)) continue;
        const params = matchRoute(route.compiled, sub);
        if (params) {
          found = { route, params };
          break;
        }
      }
      if (!found) return send(res, { status: 404, body: { message: `No function serves ${method} ${path}.` } });
      const { reg } = found.route;
      if (reg.authLevel !== 'anonymous') {
        // Host keys and the master key open every function; a function key only its own function;
        // authLevel admin takes the master key alone.
        const accepted =
          reg.authLevel === 'admin'
            ? [opts.masterKey]
            : [...opts.functionKeys, opts.masterKey, ...(opts.functionSecrets.get(reg.name.toLowerCase())?.values() ?? [])];
        if (!keyMatches(presentedKey(req, url), accepted)) {
          req.resume();
          return send(res, { status: 401, body: { message: `Function '${reg.name}' needs a key valid for it: send it as the x-functions-key header or the "code" query parameter.` } });
        }
      }
      return runHttpFunction(reg, found.params, req, res, url, method);
    }

    if (path === '/' || path === '/admin/host/status') return send(res, { status: 200, body: { state: 'Running', host: 'lcm-local-host' } });
    if (path.startsWith('/admin/')) return send(res, await adminApi(req, url, method, path));
    return send(res, { status: 404, body: { message: `Not found: ${path}` } });
  }

  /** The host's key API (master key only): `GET /admin/functions/{name}/keys`, `PUT|DELETE .../keys/{keyName}`. */
  async function adminApi(req: http.IncomingMessage, url: URL, method: string, path: string): Promise<ApiResponse> {
    const body = (await readBody(req)).toString('utf8');
    if (!keyMatches(presentedKey(req, url), [opts.masterKey])) return { status: 401, body: { message: 'The admin API needs the master key.' } };
    const segments = decodeSegments(path);
    if (!segments) return badEscape();
    const [, functions, fn, keys, keyName] = segments;
    const reg = opts.registrations.find((r) => r.name.toLowerCase() === (fn ?? '').toLowerCase());
    if (functions !== 'functions' || keys !== 'keys' || segments.length > 5) return { status: 404, body: { message: `No admin route ${method} ${path}.` } };
    if (!reg) return { status: 404, body: { message: `No function named '${fn}'.` } };
    const own = opts.functionSecrets.get(reg.name.toLowerCase()) ?? new Map<string, string>();
    if (keyName === undefined) {
      if (method !== 'GET') return { status: 405, body: { message: 'Use GET to list the function keys.' } };
      return { status: 200, body: { keys: [...own].map(([name, value]) => ({ name, value })) } };
    }
    if (method === 'DELETE') {
      if (!own.delete(keyName)) return { status: 404, body: { message: `Function '${reg.name}' has no key '${keyName}'.` } };
      return { status: 204 };
    }
    if (method !== 'PUT') return { status: 405, body: { message: 'Use PUT to set a function key or DELETE to remove it.' } };
    let value: unknown;
    try {
      value = body.trim() === '' ? undefined : (JSON.parse(body) as { value?: unknown })?.value;
    } catch {
      return { status: 400, body: { message: 'The body is not valid JSON: send {"name": "...", "value": "..."}.' } };
    }
    if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z0-9_=-]{16,128}$/.test(value))) {
      return { status: 400, body: { message: 'A key value must be 16-128 characters of letters, digits, "_", "-" or "=".' } };
    }
    const existed = own.has(keyName);
    own.set(keyName, (value as string | undefined) ?? randomBytes(30).toString('base64url'));
    opts.functionSecrets.set(reg.name.toLowerCase(), own);
    return { status: existed ? 200 : 201, body: { name: keyName, value: own.get(keyName) } };
  }

  async function runHttpFunction(reg: Registration, params: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse, url: URL, method: string): Promise<void> {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const request = new HttpRequest({ method, url: url.href, headers, params, body: body.length > 0 ? { bytes: body } : undefined });
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: reg.name,
      logHandler: (level, ...args) => opts.log(`[${reg.name}] ${level}: ${args.map(String).join(' ')}`),
      options: { trigger: reg.trigger, extraInputs: reg.extraInputs, extraOutputs: reg.extraOutputs },
    });
    for (const input of reg.extraInputs) {
      if (input.type === 'durableClient' || input.type === 'orchestrationClient') context.extraInputs.set(input.name, opts.clientData());
    }
    let response: InstanceType<typeof HttpResponse>;
    try {
      const result = (await reg.handler(request, context)) as InstanceType<typeof HttpResponse> | HttpResponseInit | undefined;
      response = result instanceof HttpResponse ? result : new HttpResponse(result ?? {});
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      opts.log(`function ${reg.name} (${method} ${url.pathname}) threw: ${err instanceof Error ? err.stack : message}`);
      return send(res, { status: 500, body: { message: `Function '${reg.name}' failed: ${message}` } });
    }
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((v, k) => {
      out[k] = v;
    });
    const cookies = response.cookies.map((c) => `${c.name}=${c.value}${c.path ? `; Path=${c.path}` : ''}${c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : ''}${c.httpOnly ? '; HttpOnly' : ''}${c.secure ? '; Secure' : ''}`);
    if (cookies.length > 0) out['set-cookie'] = cookies;
    const payload = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, out);
    res.end(payload);
  }

  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      // The path only: the query may carry a key (`code=`).
      opts.log(`local host: ${req.method} ${(req.url ?? '/').split('?')[0]} failed: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) send(res, { status: 500, body: { message: 'The local host failed to handle the request; see its log.' } });
      else res.destroy();
    });
  });
}

export function listen(server: http.Server, port: number, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
