/**
 * Authentication of File service requests: SharedKey (what the SDK signs with an account key) and
 * service SAS (what a VM presents when it `curl`s a file). This is the emulator's security
 * boundary, so every check the real service makes that matters locally is made here: the HMAC,
 * the account, the request date, the SAS validity window, protocol, IP range, resource scope and
 * permissions. Nothing derived from the key ever reaches an error message or the request log.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { compareHeaderNames } from './header-order.js';

/** Letters of a SAS `sp` value. */
export type SasPermission = 'r' | 'c' | 'w' | 'd' | 'l';

/** What an operation needs from a SAS. `scope: 'none'` means no service SAS may perform it. */
export interface SasRequirement {
  scope: 'file' | 'directory' | 'share' | 'none';
  /** Any one of these letters in `sp` grants the operation. */
  anyOf: SasPermission[];
}

export interface AuthRequest {
  method: string;
  /** The path exactly as received (still percent-encoded), starting with `/<account>`. */
  rawPath: string;
  /** The query string as received, without `?`. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  remoteAddress: string | undefined;
  /** Share name and decoded path inside the share ('' for the share root), when the URL names one. */
  share?: string;
  path: string;
  sas: SasRequirement;
}

export interface AuthContext {
  accountName: string;
  key: Buffer;
  now: Date;
}

export type AuthOutcome =
  | { ok: true; scheme: 'sharedKey' | 'sas' }
  | { ok: false; scheme: 'sharedKey' | 'sas' | 'none'; status: number; code: string; detail: string };

/** Requests dated further than this from our clock are refused, as the service does. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** The oldest SAS version whose string-to-sign has the layout we verify. */
const MIN_SAS_VERSION = '2015-04-05';

export function authenticate(req: AuthRequest, ctx: AuthContext): AuthOutcome {
  const query = parseRawQuery(req.rawQuery);
  if (query.has('sig')) return verifySas(req, query, ctx);
  const authorization = header(req.headers, 'authorization');
  if (authorization) return verifySharedKey(req, authorization, ctx);
  return deny('none', 401, 'NoAuthenticationInformation', 'The request carries neither a SharedKey Authorization header nor a SAS signature.');
}

function deny(
  scheme: 'sharedKey' | 'sas' | 'none',
  status: number,
  code: string,
  detail: string,
): AuthOutcome {
  return { ok: false, scheme, status, code, detail };
}

const authFailed = (scheme: 'sharedKey' | 'sas', detail: string): AuthOutcome =>
  deny(scheme, 403, 'AuthenticationFailed', detail);

// ---------------------------------------------------------------------------------------------
// SharedKey

function verifySharedKey(req: AuthRequest, authorization: string, ctx: AuthContext): AuthOutcome {
  const match = /^SharedKey ([^:\s]+):(\S+)$/.exec(authorization.trim());
  if (!match) return authFailed('sharedKey', 'The Authorization header is not of the form "SharedKey <account>:<signature>".');
  const [, account, signature] = match as unknown as [string, string, string];
  if (account !== ctx.accountName) {
    return authFailed('sharedKey', `The Authorization header names account "${account}", this endpoint serves "${ctx.accountName}".`);
  }
  const dated = header(req.headers, 'x-ms-date') ?? header(req.headers, 'date');
  const when = dated ? Date.parse(dated) : NaN;
  if (Number.isNaN(when)) return authFailed('sharedKey', 'The request has no valid x-ms-date or Date header.');
  if (Math.abs(ctx.now.getTime() - when) > MAX_CLOCK_SKEW_MS) {
    return authFailed('sharedKey', 'The request date is more than 15 minutes away from the server time.');
  }
  const tail = canonicalizedHeaders(req.headers) + canonicalizedResource(ctx.accountName, req.rawPath, req.rawQuery);
  if (tail === undefined) return authFailed('sharedKey', 'The request URL has malformed percent-encoding.');
  // The service's layout is Content-Encoding, Content-Language; @azure/storage-common 12 signs
  // them the other way round. Both are empty for every request the SDK sends to the File
  // service, and we accept either order so a correct client of either kind passes.
  for (const order of [
    ['content-encoding', 'content-language'],
    ['content-language', 'content-encoding'],
  ] as const) {
    const stringToSign = [
      req.method.toUpperCase(),
      standardHeader(req.headers, order[0]),
      standardHeader(req.headers, order[1]),
      standardHeader(req.headers, 'content-length'),
      standardHeader(req.headers, 'content-md5'),
      standardHeader(req.headers, 'content-type'),
      standardHeader(req.headers, 'date'),
      standardHeader(req.headers, 'if-modified-since'),
      standardHeader(req.headers, 'if-match'),
      standardHeader(req.headers, 'if-none-match'),
      standardHeader(req.headers, 'if-unmodified-since'),
      standardHeader(req.headers, 'range'),
    ].join('\n') + '\n' + tail;
    if (signatureMatches(signature, hmac(ctx.key, stringToSign))) return { ok: true, scheme: 'sharedKey' };
  }
  return authFailed('sharedKey', 'The MAC signature in the Authorization header is not the same as any computed signature.');
}

function standardHeader(headers: IncomingHttpHeaders, name: string): string {
  const value = header(headers, name) ?? '';
  // Since version 2015-02-21 a zero Content-Length is signed as the empty string.
  return name === 'content-length' && value === '0' ? '' : value;
}

function canonicalizedHeaders(headers: IncomingHttpHeaders): string {
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n.startsWith('x-ms-'));
  const unique = [...new Set(names)].sort(compareHeaderNames);
  return unique.map((n) => `${n}:${(header(headers, n) ?? '').trimStart()}\n`).join('');
}

/**
 * `/<account><path>` then `\n<key>:<decoded value>` per query parameter, keys lower-cased and
 * sorted. Parameters are selected the way the SDK selects them (exactly one `=`, non-empty key
 * and value), so both sides sign the same set.
 */
function canonicalizedResource(account: string, rawPath: string, rawQuery: string): string | undefined {
  let out = `/${account}${rawPath || '/'}`;
  const params = new Map<string, string>();
  for (const part of rawQuery ? rawQuery.split('&') : []) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq !== part.lastIndexOf('=') || eq === part.length - 1) continue;
    params.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  for (const key of [...params.keys()].sort()) {
    try {
      out += `\n${key}:${decodeURIComponent(params.get(key)!)}`;
    } catch {
      return undefined;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Service SAS

const FILE_SAS_LETTERS = 'rcwd';
const SHARE_SAS_LETTERS = 'rcwdl';

function verifySas(req: AuthRequest, query: Map<string, string>, ctx: AuthContext): AuthOutcome {
  const q = (k: string) => query.get(k) ?? '';
  if (query.has('ss') || query.has('srt')) {
    return authFailed('sas', 'Account SAS tokens are not supported by the local File endpoint; use a file or share SAS.');
  }
  if (query.has('si')) {
    return authFailed('sas', 'Stored access policies (si) are not supported by the local File endpoint.');
  }
  if (query.has('skoid') || query.has('sktid')) {
    return authFailed('sas', 'User delegation SAS tokens are not supported by the local File endpoint.');
  }
  const sr = q('sr');
  const version = q('sv');
  if (sr !== 'f' && sr !== 's') return authFailed('sas', 'The SAS signed resource (sr) must be "f" (file) or "s" (share).');
  if (!version || version < MIN_SAS_VERSION) return authFailed('sas', `The SAS version (sv) must be ${MIN_SAS_VERSION} or later.`);
  if (!req.share) return deny('sas', 403, 'AuthorizationResourceTypeMismatch', 'A service SAS cannot authorize account-level operations.');

  // The canonical resource comes from the request itself: a signature made for another file or
  // share cannot match.
  const canonical = sr === 'f' ? `/file/${ctx.accountName}/${req.share}/${req.path}` : `/file/${ctx.accountName}/${req.share}`;
  const stringToSign = [
    q('sp'), q('st'), q('se'), canonical, q('si'), q('sip'), q('spr'), version,
    q('rscc'), q('rscd'), q('rsce'), q('rscl'), q('rsct'),
  ].join('\n');
  if (!signatureMatches(q('sig'), hmac(ctx.key, stringToSign))) {
    return authFailed('sas', 'Signature did not match: the SAS token was altered or was signed with another key or for another resource.');
  }

  const now = ctx.now.getTime();
  const expiry = Date.parse(q('se'));
  if (Number.isNaN(expiry)) return authFailed('sas', 'The SAS has no valid signed expiry (se).');
  if (now >= expiry) return authFailed('sas', `Signed expiry time [${q('se')}] has passed; ask for a new SAS URL.`);
  if (query.has('st')) {
    const start = Date.parse(q('st'));
    if (Number.isNaN(start)) return authFailed('sas', 'The SAS signed start (st) is not a valid time.');
    if (now < start) return authFailed('sas', `Signed start time [${q('st')}] is in the future.`);
  }
  const protocol = q('spr');
  if (protocol && !protocol.split(',').includes('http')) {
    return deny('sas', 403, 'AuthorizationProtocolMismatch', `The SAS allows protocol "${protocol}" only; this endpoint is plain http.`);
  }
  if (query.has('sip') && !ipAllowed(q('sip'), req.remoteAddress)) {
    return deny('sas', 403, 'AuthorizationSourceIPMismatch', `The SAS is restricted to ${q('sip')}.`);
  }

  const letters = sr === 'f' ? FILE_SAS_LETTERS : SHARE_SAS_LETTERS;
  const granted = q('sp');
  if (!granted || [...granted].some((c) => !letters.includes(c))) {
    return authFailed('sas', `The SAS permissions (sp) "${granted}" are not valid for signed resource "${sr}".`);
  }
  const need = req.sas;
  const scopeOk = need.scope !== 'none' && need.scope !== 'share' && (sr === 's' || need.scope === 'file');
  if (!scopeOk) {
    return deny('sas', 403, 'AuthorizationResourceTypeMismatch', `A ${sr === 'f' ? 'file' : 'share'} SAS cannot authorize this ${need.scope === 'none' ? 'share-level' : need.scope} operation.`);
  }
  if (!need.anyOf.some((p) => granted.includes(p))) {
    return deny('sas', 403, 'AuthorizationPermissionMismatch', `This request needs SAS permission ${need.anyOf.map((p) => `"${p}"`).join(' or ')}; the SAS grants "${granted}".`);
  }
  return { ok: true, scheme: 'sas' };
}

function ipAllowed(range: string, remote: string | undefined): boolean {
  if (!remote) return false;
  const ip = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
  const toNum = (s: string) => {
    const parts = s.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return NaN;
    return ((parts[0]! * 256 + parts[1]!) * 256 + parts[2]!) * 256 + parts[3]!;
  };
  const [lo, hi = lo] = range.split('-');
  const n = toNum(ip);
  return !Number.isNaN(n) && n >= toNum(lo!) && n <= toNum(hi!);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function hmac(key: Buffer, stringToSign: string): Buffer {
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest();
}

function signatureMatches(presentedBase64: string, expected: Buffer): boolean {
  const presented = Buffer.from(presentedBase64, 'base64');
  // Buffer.from ignores junk characters: also require the canonical base64 text.
  if (presented.length !== expected.length || presented.toString('base64') !== presentedBase64) return false;
  return timingSafeEqual(presented, expected);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** Decoded query parameters; the last occurrence wins. Malformed encodings are kept raw. */
export function parseRawQuery(rawQuery: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of rawQuery ? rawQuery.split('&') : []) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    out.set(safeDecode(key), safeDecode(value));
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
