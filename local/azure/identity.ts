/**
 * The local stand-in for Microsoft Entra ID: it issues signed access tokens (RS256 JWTs, the claims
 * Entra puts in v1 tokens: aud, iss, oid, tid, iat, nbf, exp) for a principal and a resource, and
 * verifies them for the local services that accept Entra tokens (Cosmos DB). Principals get tokens
 * the two ways they do on Azure:
 * - a signed-in user (what `az login` gives bootstrap-cli): `credential(principalId)`, a TokenCredential;
 * - a function app's managed identity: App Service's identity endpoint (`IDENTITY_ENDPOINT` +
 *   `IDENTITY_HEADER`, protocol 2019-08-01), which @azure/identity's ManagedIdentityCredential calls,
 *   so the LCM reaches Cosmos with DefaultAzureCredential exactly as on Azure.
 */
import { createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/core-auth';

export interface TokenClaims {
  aud: string;
  iss: string;
  oid: string;
  tid: string;
  iat: number;
  nbf: number;
  exp: number;
  idtyp: 'user' | 'app';
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

export interface LocalIdentity {
  tenantId: string;
  /** The issuer every token names (Entra v1's form). */
  issuer: string;
  /** A token for `principalId` to call `resource` (an audience such as https://cosmos.azure.com). */
  issue(principalId: string, resource: string, options?: { kind?: 'user' | 'app'; lifetimeSeconds?: number }): AccessToken;
  /** Signature, issuer and lifetime checked; the audience is the caller's to judge. */
  verify(token: string): TokenCheck;
  /** What `az login` gives a user: tokens for any scope (`<resource>/.default`), for this principal. */
  credential(principalId: string): TokenCredential;
  /** App Service's managed identity endpoint for `principalId`: the settings App Service gives the app. */
  managedIdentitySettings(principalId: string): { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  stop(): Promise<void>;
}

const TOKEN_LIFETIME_SECONDS = 3600;
const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** The resource of a scope: `https://x/.default` -> `https://x` (as Entra maps v2 scopes to v1 audiences). */
export function resourceOfScope(scope: string): string {
  return scope.replace(/\/\.default$/, '');
}

export async function startLocalIdentity(options: { unref?: boolean } = {}): Promise<LocalIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tenantId = randomUUID();
  const issuer = `https://sts.windows.net/${tenantId}/`;
  const kid = randomBytes(8).toString('hex');
  // The identity endpoint's header value: App Service's guard against SSRF, a per-app secret.
  const header = randomBytes(24).toString('base64url');

  const issue: LocalIdentity['issue'] = (principalId, resource, options = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = options.lifetimeSeconds ?? TOKEN_LIFETIME_SECONDS;
    const claims: TokenClaims = { aud: resource, iss: issuer, oid: principalId, tid: tenantId, iat: now, nbf: now - 300, exp: now + lifetime, idtyp: options.kind ?? 'user' };
    return { token: sign(privateKey, kid, claims), expiresOnTimestamp: (now + lifetime) * 1000 };
  };

  const verify = (token: string): TokenCheck => verifyToken(publicKey, issuer, token);

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const match = /^\/msi\/([0-9a-f-]{36})\/token$/.exec(url.pathname);
    const given = Buffer.from(String(req.headers['x-identity-header'] ?? ''));
    if (req.method !== 'GET' || !match) return reply(404, { error: { code: 'NotFound', message: `No identity endpoint at ${url.pathname}.` } });
    if (given.length !== header.length || !timingSafeEqual(given, Buffer.from(header))) {
      return reply(401, { error: { code: 'Unauthorized', message: 'The X-IDENTITY-HEADER header is missing or wrong.' } });
    }
    const resource = url.searchParams.get('resource');
    if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
      return reply(400, { error: { code: 'BadRequest', message: 'api-version=2019-08-01 and resource are required.' } });
    }
    const token = issue(match[1]!, resource, { kind: 'app' });
    reply(200, { access_token: token.token, expires_on: String(Math.floor(token.expiresOnTimestamp / 1000)), resource, token_type: 'Bearer', client_id: match[1] });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
    // A process-wide identity (sharedLocalIdentity) must not keep the process alive.
    if (options.unref) server.unref();
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;

  return {
    tenantId,
    issuer,
    issue,
    verify,
    credential: (principalId) => ({
      async getToken(scopes) {
        const scope = Array.isArray(scopes) ? scopes[0] : scopes;
        if (!scope) throw new Error('local identity: getToken needs a scope');
        return issue(principalId, resourceOfScope(scope), { kind: 'user' });
      },
    }),
    managedIdentitySettings: (principalId) => ({ IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/${principalId}/token`, IDENTITY_HEADER: header }),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopped;
    },
  };
}

function sign(key: KeyObject, kid: string, claims: TokenClaims): string {
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid }));
  const body = b64url(JSON.stringify(claims));
  const signature = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key);
  return `${head}.${body}.${b64url(signature)}`;
}

function verifyToken(key: KeyObject, issuer: string, token: string): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'the token is not a JWT (three dot-separated parts)' };
  const [head, body, signature] = parts as [string, string, string];
  let header: { alg?: string };
  let claims: Partial<TokenClaims>;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'the token header or payload is not base64url JSON' };
  }
  if (header.alg !== 'RS256') return { ok: false, reason: `the token's algorithm ${String(header.alg)} is not RS256` };
  if (!createVerify('RSA-SHA256').update(`${head}.${body}`).verify(key, Buffer.from(signature, 'base64url'))) {
    return { ok: false, reason: 'the token signature does not verify against the issuer signing keys' };
  }
  if (claims.iss !== issuer) return { ok: false, reason: `the token issuer ${String(claims.iss)} is not this tenant's (${issuer})` };
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) return { ok: false, reason: 'the token has expired' };
  if (typeof claims.nbf === 'number' && claims.nbf > now) return { ok: false, reason: 'the token is not valid yet' };
  if (typeof claims.aud !== 'string' || typeof claims.oid !== 'string') return { ok: false, reason: 'the token has no aud or oid claim' };
  return { ok: true, claims: claims as TokenClaims };
}


let shared: Promise<LocalIdentity> | undefined;

/**
 * The one local Entra ID of this process (started on first use, never stopped: it dies with the
 * process). MSAL, under @azure/identity's ManagedIdentityCredential, keeps the managed identity
 * endpoint it found first for the life of the process, as App Service's never changes; so local
 * stacks started one after another in one process (the tests) must find the same endpoint, with the
 * same signing key behind it, or the second one's tokens are asked of a server that is gone.
 */
export function sharedLocalIdentity(): Promise<LocalIdentity> {
  shared ??= startLocalIdentity({ unref: true }).then((identity) => ({ ...identity, stop: async () => undefined }));
  return shared;
}
