/**
 * The Durable extension's HTTP API, served both on the public webhook prefix (system key required)
 * and on the rpcBaseUrl the SDK's DurableClient uses: start, status, list, raiseEvent, terminate, purge.
 */
import { BadRequestError, ConflictError, NotFoundError, type DurableEngine } from './engine.js';
import { managementPayload, type ClientData } from './client-data.js';

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

function flag(v: string | null): boolean | undefined {
  if (v === null) return undefined;
  return v.toLowerCase() === 'true';
}

function parseInput(text: string): string {
  if (text.trim() === '') return 'null';
  try {
    JSON.parse(text);
    return text;
  } catch {
    throw new BadRequestError('The request body is not valid JSON; send the orchestration input as JSON.');
  }
}

function parseDate(v: string | null, name: string): Date | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new BadRequestError(`Query parameter ${name}="${v}" is not a date.`);
  return d;
}

/**
 * @param segments decoded path segments after the prefix (e.g. ['instances', 'boot', 'terminate'])
 */
export function handleDurableApi(
  engine: DurableEngine,
  method: string,
  segments: string[],
  query: URLSearchParams,
  body: string,
  clientData: ClientData,
): ApiResponse {
  try {
    const [head, id, action, eventName] = segments;
    if (head === 'orchestrators' && id && segments.length <= 3) {
      if (method !== 'POST') return { status: 405, body: { message: 'Use POST to start an orchestration.' } };
      const instanceId = engine.startNew(id, action, parseInput(body));
      const payload = managementPayload(clientData, instanceId);
      return { status: 202, headers: { Location: payload.statusQueryGetUri, 'Retry-After': '10' }, body: payload };
    }
    if (head === 'instances' && !id) {
      if (method !== 'GET') return { status: 405, body: { message: 'Use GET to list instances.' } };
      const list = engine.listInstances(
        {
          name: query.get('name') ?? undefined,
          runtimeStatus: query.get('runtimeStatus')?.split(',').map((s) => s.trim()).filter(Boolean),
          createdTimeFrom: parseDate(query.get('createdTimeFrom'), 'createdTimeFrom'),
          createdTimeTo: parseDate(query.get('createdTimeTo'), 'createdTimeTo'),
          instanceIdPrefix: query.get('instanceIdPrefix') ?? undefined,
        },
        { showInput: flag(query.get('showInput')) },
      );
      const top = Number(query.get('top'));
      return { status: 200, body: Number.isInteger(top) && top > 0 ? list.slice(0, top) : list };
    }
    if (head === 'instances' && id && !action) {
      if (method === 'DELETE') {
        const r = engine.purge(id);
        if (r === 'notFound') return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
        if (r === 'active') return { status: 409, body: { message: `Instance '${id}' is still running; terminate it before purging.` } };
        return { status: 200, body: { instancesDeleted: 1 } };
      }
      if (method !== 'GET') return { status: 405, body: { message: 'Use GET for status or DELETE to purge.' } };
      const status = engine.getStatus(id, {
        showHistory: flag(query.get('showHistory')),
        showHistoryOutput: flag(query.get('showHistoryOutput')),
        showInput: flag(query.get('showInput')),
      });
      if (!status) return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
      const running = status.runtimeStatus === 'Pending' || status.runtimeStatus === 'Running';
      if (!running) return { status: 200, body: status };
      return { status: 202, headers: { Location: managementPayload(clientData, id).statusQueryGetUri, 'Retry-After': '10' }, body: status };
    }
    if (head === 'instances' && id && action === 'raiseEvent' && eventName && segments.length === 4) {
      if (method !== 'POST') return { status: 405, body: { message: 'Use POST to raise an event.' } };
      let input: string | null = null;
      if (body.trim() !== '') {
        try {
          JSON.parse(body);
        } catch {
          return { status: 400, body: { message: 'The event data is not valid JSON.' } };
        }
        input = body;
      }
      const r = engine.raiseEvent(id, eventName, input);
      if (r === 'notFound') return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
      if (r === 'gone') return { status: 410, body: { message: `Instance '${id}' is no longer running; the event was dropped.` } };
      return { status: 202 };
    }
    if (head === 'instances' && id && action === 'terminate' && segments.length === 3) {
      if (method !== 'POST') return { status: 405, body: { message: 'Use POST to terminate.' } };
      const r = engine.terminate(id, query.get('reason') ?? '');
      if (r === 'notFound') return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
      if (r === 'gone') return { status: 410, body: { message: `Instance '${id}' is not running.` } };
      return { status: 202 };
    }
    if (head === 'instances' && id && ['rewind', 'suspend', 'resume'].includes(action ?? '')) {
      return { status: 501, body: { message: `${action} is not supported by the local host.` } };
    }
    return { status: 404, body: { message: `No durable API route for ${method} /${segments.join('/')}.` } };
  } catch (err) {
    if (err instanceof ConflictError || err instanceof NotFoundError || err instanceof BadRequestError) {
      return { status: err.status, body: { message: err.message } };
    }
    throw err;
  }
}
