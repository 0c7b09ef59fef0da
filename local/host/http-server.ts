/**
 * The HTTP front: `/api/<route>` runs HTTP triggers with `@azure/functions` request/response
 * objects and key checks like the Functions host; the durable webhook prefix and the rpc prefix
 * serve the Durable extension's API.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
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
  functionKeys: string[];
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
      if (durable === WEBHOOK_PREFIX && presentedKey(req, url) !== opts.systemKey) {
        return send(res, { status: 401, body: { message: 'The durable task API needs the system key as the "code" query parameter (or x-functions-key header).' } });
      }
      const segments = path.slice(durable.length + 1).split('/').filter((s) => s.length > 0).map(decodeURIComponent);
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
        const key = presentedKey(req, url);
        if (!key || !opts.functionKeys.includes(key)) {
          return send(res, { status: 401, body: { message: `Function '${reg.name}' needs a function key: send it as the x-functions-key header or the "code" query parameter.` } });
        }
      }
      return runHttpFunction(reg, found.params, req, res, url, method);
    }

    if (path === '/' || path === '/admin/host/status') return send(res, { status: 200, body: { state: 'Running', host: 'lcm-local-host' } });
    return send(res, { status: 404, body: { message: `Not found: ${path}` } });
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
      opts.log(`local host: ${req.method} ${req.url} failed: ${err instanceof Error ? err.stack : String(err)}`);
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
