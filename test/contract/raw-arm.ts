/** Raw HTTPS calls to the ARM emulator for the contract suites: what goes on the wire, no SDK in between. */
import https from 'node:https';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** A caller of `endpoint` over `agent` (the emulator's CA); a path or a full URL (an LRO's), an api-version, a JSON body. */
export function rawArm(endpoint: () => string, agent: () => https.Agent) {
  return function call(method: string, pathOrUrl: string, apiVersion?: string, body?: unknown, query: Record<string, string> = {}): Promise<Answer> {
    const url = new URL(pathOrUrl.startsWith('https://') ? pathOrUrl : `${endpoint()}${pathOrUrl}`);
    if (apiVersion) url.searchParams.set('api-version', apiVersion);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method, agent: agent(), headers: { authorization: 'Bearer contract', ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
            resolve({ status: res.statusCode ?? 0, headers, body: raw ? JSON.parse(raw) : undefined });
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  };
}
