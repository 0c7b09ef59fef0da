/**
 * Authorization in front of the local Cosmos DB server, checked as the Cosmos DB gateway checks it
 * (REST "Access control on Cosmos DB resources"; the @azure/cosmos SDK's auth.ts and headers.ts
 * compute what is checked here). @vercel/cosmosdb-server itself accepts any Authorization header.
 *
 * - `type=master&ver=1.0&sig=...`: an HMAC-SHA256, with the account key, over
 *   `verb\nresourceType\nresourceLink\nx-ms-date\n\n` (verb, type and date lower-cased); the date
 *   must be RFC 1123 and at most 15 minutes old. Refused outright when the account has local auth
 *   disabled (`disableLocalAuth: true`), with the service's 401 / substatus 5202.
 * - `type=aad&ver=1.0&sig=<JWT>`: a token the local identity issued, not expired, whose audience is
 *   the account endpoint or https://cosmos.azure.com (else 401 / substatus 5008, as the service).
 * - anything else (resource tokens, no header): 401.
 * Status codes, substatus codes and messages are the service's where they are known.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LocalIdentity } from './identity.js';

export interface CosmosAuthPolicy {
  /** The account key master-key signatures are computed with. */
  key: string;
  /** `disableLocalAuth` of the account: master keys refused, Entra tokens only. */
  localAuthDisabled: boolean;
  /** Verifies Entra tokens; without it every AAD request is refused. */
  identity?: Pick<LocalIdentity, 'verify'>;
  /** The account endpoint (what the SDK asks a token for: https://host:port). */
  endpoint(): string;
  /** The clock (tests age a date). */
  now?: () => number;
  /** The account's name, as the service names it in refusals. */
  accountName: string;
  /**
   * The key the local control plane (what ARM does on Azure: create databases and containers)
   * signs with; accepted whatever localAuthDisabled says, and held by the emulator only.
   */
  controlPlaneKey?: string;
}

export interface CosmosAuthDenial {
  status: 401 | 403;
  substatus?: number;
  code: 'Unauthorized' | 'Forbidden';
  message: string;
}

/** The principal an accepted request acts as. */
export type CosmosCaller = { kind: 'master' } | { kind: 'control-plane' } | { kind: 'aad'; principalId: string };

/** Cosmos accepts a master-key signature for 15 minutes after its x-ms-date. */
const MASTER_TOKEN_VALIDITY_MS = 15 * 60 * 1000;
export const COSMOS_AAD_AUDIENCE = 'https://cosmos.azure.com';

const unauthorized = (message: string, substatus?: number): CosmosAuthDenial => ({ status: 401, substatus, code: 'Unauthorized', message });

/** The resource type and link a request is signed over, derived from its path as the gateway does. */
export function signedResource(pathname: string): { type: string; link: string } {
  const segments = pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
  if (segments.length === 0) return { type: '', link: '' };
  // Odd: a feed (POST /dbs/a/colls, the link is its parent); even: one resource (GET /dbs/a).
  const feed = segments.length % 2 === 1;
  const type = feed ? segments[segments.length - 1]! : segments[segments.length - 2]!;
  let link = (feed ? segments.slice(0, -1) : segments).join('/');
  if (type.toLowerCase() === 'offers') link = link.toLowerCase();
  return { type, link };
}

export function authorizeCosmosRequest(req: IncomingMessage, policy: CosmosAuthPolicy): CosmosAuthDenial | CosmosCaller {
  const raw = req.headers['authorization'];
  if (typeof raw !== 'string' || raw === '') return unauthorized('Required Header authorization is missing. Ensure a valid Authorization token is passed.');
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return unauthorized('The input authorization token is not URL-encoded correctly.');
  }
  const fields = new URLSearchParams(decoded.replace(/\+/g, '%2B'));
  const type = fields.get('type');
  const sig = fields.get('sig');
  if (fields.get('ver') !== '1.0' || !sig) return unauthorized("The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol.");
  if (type === 'master') return master(req, policy, sig);
  if (type === 'aad') return aad(req, policy, sig);
  if (type === 'resource') return unauthorized('Resource tokens are not accepted by this account: use an AAD token.');
  return unauthorized(`The authorization type "${String(type)}" is not supported. Use type=master or type=aad.`);
}

function master(req: IncomingMessage, policy: CosmosAuthPolicy, sig: string): CosmosAuthDenial | CosmosCaller {
  if (policy.controlPlaneKey && signatureMatches(req, policy.controlPlaneKey, sig)) return { kind: 'control-plane' };
  if (policy.localAuthDisabled) return unauthorized('Local Authorization is disabled. Use an AAD token to authorize all requests.', 5202);
  const date = String(req.headers['x-ms-date'] ?? req.headers['date'] ?? '');
  const signedAt = Date.parse(date);
  if (!date || Number.isNaN(signedAt) || !/GMT$/.test(date)) {
    return unauthorized('The input date header is invalid format. Please pass in RFC 1123 style date format.');
  }
  const now = (policy.now ?? Date.now)();
  if (now < signedAt - 1000 || now > signedAt + MASTER_TOKEN_VALIDITY_MS) {
    return {
      status: 403,
      code: 'Forbidden',
      message:
        `The authorization token is not valid at the current time. Please create another token and retry (token start time: ${new Date(signedAt).toUTCString()}, ` +
        `token expiry time: ${new Date(signedAt + MASTER_TOKEN_VALIDITY_MS).toUTCString()}, current server time: ${new Date(now).toUTCString()}).`,
    };
  }
  if (!signatureMatches(req, policy.key, sig)) {
    return unauthorized(
      `The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol. ` +
        `Server used the following payload to sign: '${payloadOf(req).replace(/\n/g, '\\n')}'`,
    );
  }
  return { kind: 'master' };
}

/** The string a master-key signature covers. */
function payloadOf(req: IncomingMessage): string {
  const date = String(req.headers['x-ms-date'] ?? req.headers['date'] ?? '');
  const { type, link } = signedResource(new URL(req.url ?? '/', 'http://localhost').pathname);
  return `${(req.method ?? 'GET').toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
}

function signatureMatches(req: IncomingMessage, key: string, sig: string): boolean {
  const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(payloadOf(req), 'utf8').digest();
  const given = Buffer.from(sig, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Databases and containers are the control plane's (ARM) with Entra auth: the data plane refuses
 * to create, replace or delete them (the service's 403 / substatus 5300).
 */
function isControlPlaneRequest(req: IncomingMessage): boolean {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return false;
  const { type } = signedResource(new URL(req.url ?? '/', 'http://localhost').pathname);
  return ['dbs', 'colls', 'offers'].includes(type.toLowerCase()) && !(method === 'POST' && isQuery(req));
}

const isQuery = (req: IncomingMessage): boolean => String(req.headers['x-ms-documentdb-isquery'] ?? '').toLowerCase() === 'true';

function aad(req: IncomingMessage, policy: CosmosAuthPolicy, token: string): CosmosAuthDenial | CosmosCaller {
  if (!policy.identity) return unauthorized('AAD tokens are not accepted: this account has no identity provider configured.', 5000);
  const check = policy.identity.verify(token);
  if (!check.ok) return unauthorized(`The AAD token could not be validated: ${check.reason}.`, 5000);
  const account = new URL(policy.endpoint()).origin;
  const accepted = [account, COSMOS_AAD_AUDIENCE];
  // Exact: the service refuses even a trailing slash (`https://acct.documents.azure.com/`).
  if (!accepted.includes(check.claims.aud)) {
    return unauthorized(`Provided AAD token is intended for [${check.claims.aud}]. This database account accepts tokens intended for [${accepted.join(', ')}].`, 5008);
  }
  if (isControlPlaneRequest(req)) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/$/, '');
    return {
      status: 403,
      substatus: 5300,
      code: 'Forbidden',
      message: `Request blocked by Auth ${policy.accountName} : The given request [${(req.method ?? 'GET').toUpperCase()} ${path}] cannot be authorized by AAD token in data plane. Learn more: https://aka.ms/cosmos-native-rbac.`,
    };
  }
  return { kind: 'aad', principalId: check.claims.oid };
}
