/**
 * The page's only way to the LCM: fetch to this origin's /api with the operator key in the
 * x-functions-key header (never in a URL, so it reaches no log or history). A 401 signs out.
 */
export interface Answer<T = any> {
  status: number;
  body: T;
  etag?: string;
}

export interface Api {
  get<T = any>(path: string): Promise<Answer<T>>;
  post<T = any>(path: string, body?: unknown): Promise<Answer<T>>;
  put<T = any>(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
}

async function call<T>(key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(`/api/${path}`, {
    method,
    cache: 'no-store',
    credentials: 'omit',
    headers: { 'x-functions-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T, etag: res.headers.get('etag') ?? undefined };
}

export function createApi(key: string, onUnauthorized: () => void): Api {
  const guarded = async <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const answer = await call<T>(key, method, path, body, headers);
    if (answer.status === 401) onUnauthorized();
    return answer;
  };
  return {
    get: (path) => guarded('GET', path),
    post: (path, body) => guarded('POST', path, body),
    put: (path, body, headers) => guarded('PUT', path, body, headers),
  };
}

/**
 * Whether `key` is an operator key of this LCM: GET /api/platform opens to the operators' key
 * only (the monitoring key gets 401 there), so a wrong or a monitoring key sees nothing.
 */
export async function verifyKey(key: string): Promise<{ ok: true } | { ok: false; message: string }> {
  let answer: Answer;
  try {
    answer = await call(key, 'GET', 'platform');
  } catch (e) {
    return { ok: false, message: `the LCM API did not answer: ${(e as Error).message}` };
  }
  if (answer.status === 200) return { ok: true };
  if (answer.status === 401) return { ok: false, message: 'this key does not open the LCM: use the operators\u2019 key (the one `npm start` prints, or a host key of the function app)' };
  return { ok: false, message: `the LCM answered ${answer.status}: ${errorText(answer.body)}` };
}

/** The reason in an API error body ({error} from our routes, {message} from the host). */
export function errorText(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; message?: unknown };
    if (typeof b.error === 'string') return b.error;
    if (typeof b.message === 'string') return b.message;
  }
  return typeof body === 'string' && body ? body.slice(0, 300) : 'no reason given';
}

const KEY_SLOT = 'lcm.operatorKey';
/** The key lives for the browser session only (sessionStorage: this tab, until it closes). */
export const session = {
  load: (): string | null => sessionStorage.getItem(KEY_SLOT),
  save: (key: string) => sessionStorage.setItem(KEY_SLOT, key),
  clear: () => sessionStorage.removeItem(KEY_SLOT),
};
