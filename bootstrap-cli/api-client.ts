/**
 * The LCM's HTTP API as the CLI sees it: JSON over fetch with the function key, and errors a person
 * can act on (no API at the URL, a wrong key, a 4xx with the API's own reason).
 */
import { CliError, EXIT } from './io.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:7071';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** The body of GET /api/operations/{id}. */
export interface OperationStatus {
  id: string;
  name: string;
  kind?: string;
  target?: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  input?: unknown;
  customStatus: unknown;
  output: unknown;
  history?: HistoryEvent[];
}

/** One event of an operation's history as the Durable extension shows it (showHistory=true). */
export interface HistoryEvent {
  EventType: string;
  Timestamp: string;
  FunctionName?: string;
  Name?: string;
  ScheduledTime?: string;
  Reason?: string;
  Details?: string;
  Result?: unknown;
  /** An event's data (EventRaised). */
  Input?: unknown;
  OrchestrationStatus?: string;
}

export const ACTIVE_STATES = new Set(['Running', 'Pending', 'ContinuedAsNew']);

export class LcmApi {
  readonly baseUrl: string;
  constructor(
    baseUrl: string,
    private readonly key: string | undefined,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  get<T = unknown>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, body?: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  put<T = unknown>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, body, headers);
  }

  private async request<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const url = `${this.baseUrl}/api/${path.replace(/^\/+/, '')}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...(this.key ? { 'x-functions-key': this.key } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extraHeaders },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
        throw new CliError(`no LCM API at ${this.baseUrl}: start one with \`npm start\` or pass --url`, EXIT.failed);
      }
      throw new CliError(`${method} ${url} failed: ${(e as Error).message}${code ? ` (${code})` : ''}`, EXIT.failed);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the message.
    }
    if (res.status === 401 || res.status === 403) {
      throw new CliError(
        `the LCM API at ${this.baseUrl} refused the key (${res.status}): pass the key printed by \`bootstrap-cli deploy\` with --key or LCM_API_KEY`,
        EXIT.failed,
      );
    }
    if (res.status >= 500) throw new CliError(`${method} /api/${path}: the LCM answered ${res.status}: ${errorText(parsed)}`, EXIT.failed);
    return { status: res.status, body: parsed as T };
  }

  /** Polls an operation until it is no longer active; `onStatus` sees every poll. */
  async follow(id: string, options: { intervalMs?: number; onStatus?: (s: OperationStatus) => void; signal?: AbortSignal } = {}): Promise<OperationStatus> {
    const interval = options.intervalMs ?? 500;
    for (;;) {
      const res = await this.get<OperationStatus>(`operations/${encodeURIComponent(id)}`);
      if (res.status === 404) throw new CliError(`no operation "${id}" at ${this.baseUrl}`, EXIT.failed);
      if (res.status !== 200 && res.status !== 202) throw new CliError(`GET /api/operations/${id}: ${res.status} ${errorText(res.body)}`, EXIT.failed);
      options.onStatus?.(res.body);
      if (res.status === 200 && !ACTIVE_STATES.has(res.body.runtimeStatus)) return res.body;
      if (options.signal?.aborted) return res.body;
      await sleep(interval, options.signal);
    }
  }
}

/** The `error` field of an API error body, else the body as text. */
export function errorText(body: unknown): string {
  if (body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'string') {
    const b = body as { error: string; issues?: unknown };
    // Issues are strings (older routes) or {path, message} (the desired-state routes).
    const line = (i: unknown) => {
      if (!i || typeof i !== 'object') return String(i);
      const { path, message } = i as { path?: unknown; message?: unknown };
      return `${typeof path === 'string' && path ? `${path}: ` : ''}${String(message)}`;
    };
    return Array.isArray(b.issues) && b.issues.length > 0 ? `${b.error}:\n  ${b.issues.map(line).join('\n  ')}` : b.error;
  }
  return typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
