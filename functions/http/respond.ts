/** Responses and request parsing shared by the API's routes. Bad input is a 4xx, never a 5xx. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { DNS_LABEL } from '../platform/topology.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new HttpError(400, message, details);
export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string, details?: Record<string, unknown>) => new HttpError(409, message, details);

/** A route parameter that names a VM or service: a lowercase DNS label, or 400. */
export function nameParam(request: HttpRequest, param: string): string {
  const value = request.params[param] ?? '';
  if (!DNS_LABEL.test(value)) throw badRequest(`"${value.slice(0, 80)}" is not a valid ${param}: names are lowercase DNS labels`);
  return value;
}

const MAX_BODY = 64 * 1024;
/** No request body needs more; validators walk bodies recursively, so deeper input must stop here. */
const MAX_DEPTH = 32;

/** Whether a parsed JSON value nests objects/arrays deeper than `limit` (counted without recursion). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The JSON body, or `undefined` when empty and `optional`. */
export async function jsonBody(request: HttpRequest, optional = false): Promise<unknown> {
  const text = await request.text();
  if (text.length > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
  if (text.trim() === '') {
    if (optional) return undefined;
    throw badRequest('the request needs a JSON body');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw badRequest(`the body is not valid JSON: ${(e as Error).message}`);
  }
  if (nestedDeeperThan(body, MAX_DEPTH)) throw badRequest(`the body nests objects or lists deeper than ${MAX_DEPTH} levels`);
  return body;
}

/** Optional `{ reason?, requestedBy? }` of the operation routes. */
export async function operationBody(request: HttpRequest): Promise<{ reason?: string; requestedBy?: string }> {
  const body = await jsonBody(request, true);
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object like {"reason": "..."}');
  const out: { reason?: string; requestedBy?: string } = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key !== 'reason' && key !== 'requestedBy') throw badRequest(`unknown field "${key.slice(0, 40)}": allowed are reason and requestedBy`);
    if (typeof value !== 'string' || value.length > 300) throw badRequest(`${key} must be a string of at most 300 characters`);
    out[key] = value;
  }
  return out;
}

export type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Turns HttpErrors into their status; anything else is a 500 with a short message and a log line. */
export function route(handler: Handler): Handler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { error: e.message, ...e.details });
      context.error(`${request.method} ${new URL(request.url).pathname} failed: ${(e as Error).message}`);
      return json(500, { error: `internal error: ${(e as Error).message.split('\n')[0]}` });
    }
  };
}
