/**
 * A local Azure Files endpoint for @azure/storage-file-share 12 and for `curl` with SAS URLs, one
 * account, shares as folders under rootDir (Azurite has no File service). With `tls` it is the
 * HTTPS endpoint of an account with secure transfer required (Azure's default): one port speaks
 * TLS, and a plain-http request on it gets what Azure answers, 400 AccountRequiresHttps. Without
 * `tls` it serves plain http (the local VM stack still fetches over http; see the README).
 *
 *   const files = await startFileShareEmulator({ rootDir, accountName: 'iotplatformcode' });
 *   const client = ShareServiceClient.fromConnectionString(files.connectionString);
 *   ...
 *   await files.stop();
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { LocalTls } from '../tls.js';
import { authenticate, parseRawQuery, type SasRequirement } from './auth.js';
import { isValidShareName, ShareStore, StoreError, type FileProps } from './store.js';
import { errorXml, LIST_INCLUDES, listDirectoryXml, listSharesXml, type ListInclude } from './xml.js';

export interface FileShareEmulatorOptions {
  /** Folder holding one sub-folder per share. Created when missing. */
  rootDir: string;
  accountName: string;
  /** Base64 account key; a random 64-byte key when absent. */
  accountKey?: string;
  /** Address to listen on (default 127.0.0.1); the local VMs reach the host on the VM network's gateway. */
  host?: string;
  /** Serve HTTPS with this certificate (clients trust `tls.cert`); plain http is then refused. */
  tls?: LocalTls;
  /**
   * The account's `supportsHttpsTrafficOnly` (secure transfer required). Default: true when `tls`
   * is given, as on a new Azure storage account. False serves http requests on the TLS port too.
   */
  secureTransferRequired?: boolean;
}

export interface FileRequestLogEntry {
  /** e.g. share.create, dir.create, dir.list, file.create, file.putRange, file.properties, file.download */
  kind: string;
  method: string;
  /** Decoded path below the account, without the query string (a SAS signature never lands here). */
  path: string;
  status: number;
  auth: 'sharedKey' | 'sas' | 'none';
  errorCode?: string;
  /** The requested byte range of a ranged download or a put range. */
  range?: string;
}

export interface FileRequestLog {
  count(kind?: string): number;
  entries(): FileRequestLogEntry[];
  reset(): void;
}

export interface FileShareEmulator {
  /** http://127.0.0.1:PORT/<account> */
  endpoint: string;
  /** DefaultEndpointsProtocol=http;AccountName=..;AccountKey=..;FileEndpoint=.. (holds the key: never log it) */
  connectionString: string;
  accountName: string;
  accountKey: string;
  log: FileRequestLog;
  stop(): Promise<void>;
}

const SERVICE_VERSION = '2026-04-06';
/** The service refuses larger Put Range bodies. */
const MAX_RANGE_BYTES = 4 * 1024 * 1024;
const MAX_FILE_BYTES = 4 * 1024 ** 4;
const DEFAULT_MAX_RESULTS = 5000;

type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  kind: string;
  sas: SasRequirement;
  handle: Handler;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: Map<string, string>;
  share: string;
  segments: string[];
  entry: FileRequestLogEntry;
}

export async function startFileShareEmulator(options: FileShareEmulatorOptions): Promise<FileShareEmulator> {
  const { rootDir, accountName } = options;
  if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
    throw new Error(`File share emulator: account name "${accountName}" is invalid; use 3-24 lower-case letters and digits.`);
  }
  const accountKey = options.accountKey ?? randomBytes(64).toString('base64');
  const key = Buffer.from(accountKey, 'base64');
  if (key.length === 0) throw new Error('File share emulator: accountKey must be a non-empty base64 string.');

  const store = new ShareStore(rootDir);
  await store.listShares(); // fails early on an unreadable rootDir
  const entries: FileRequestLogEntry[] = [];
  let endpoint = '';

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      // Last resort: a bug in a handler. The message names the request, not any secret.
      if (!res.headersSent) sendError(res, req.method === 'HEAD', 500, 'InternalError', `The local File endpoint failed: ${(err as Error).message}`);
      else res.destroy();
    });
  };
  const secure = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, serve) : undefined;
  const secureTransferRequired = options.secureTransferRequired ?? Boolean(options.tls);
  const plain = http.createServer((req, res) => {
    if (!secureTransferRequired) return serve(req, res);
    // What the account answers a plain-http request when secure transfer is required.
    res.setHeader('x-ms-request-id', randomUUID());
    const entry: FileRequestLogEntry = { kind: 'http.refused', method: (req.method ?? 'GET').toUpperCase(), path: (req.url ?? '/').split('?')[0]!, status: 400, auth: 'none', errorCode: 'AccountRequiresHttps' };
    res.on('finish', () => entries.push(entry));
    void reject(req, res, 400, 'AccountRequiresHttps', 'The account being accessed does not support http.');
  });
  // One port, as the account has one host: a TLS ClientHello (first byte 0x16) goes to the HTTPS
  // server, anything else to the plain one.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const ignore = () => undefined; // a client gone before its first byte
    socket.on('error', ignore);
    // Peek at the first byte in paused mode and put it back, so the server taking the socket reads it.
    const route = () => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) {
        socket.once('readable', route);
        return;
      }
      socket.unshift(first);
      socket.off('error', ignore);
      (secure && first[0] === 0x16 ? secure : plain).emit('connection', socket);
    };
    socket.once('readable', route);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    res.setHeader('x-ms-request-id', randomUUID());
    res.setHeader('x-ms-version', headerValue(req, 'x-ms-version') ?? SERVICE_VERSION);

    const entry: FileRequestLogEntry = { kind: 'unknown', method, path: rawPath, status: 0, auth: 'none' };
    res.on('finish', () => {
      entry.status = res.statusCode;
      const code = res.getHeader('x-ms-error-code');
      if (typeof code === 'string') entry.errorCode = code;
      entries.push(entry);
    });

    let segments: string[];
    try {
      segments = rawPath.split('/').slice(1).map((s) => decodeURIComponent(s));
    } catch {
      return reject(req, res, 400, 'InvalidUri', 'The request path has malformed percent-encoding.');
    }
    if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
    if (segments[0] !== accountName) {
      return reject(req, res, 400, 'InvalidUri', `The path must start with /${accountName}, the account this endpoint serves.`);
    }
    segments = segments.slice(1);
    entry.path = '/' + segments.join('/');
    const query = parseRawQuery(rawQuery);
    const share = segments[0] ?? '';
    const inShare = segments.slice(1);

    const route = pickRoute(method, query, segments.length, headerValue(req, 'x-ms-type'));
    entry.kind = route?.kind ?? 'unsupported';

    const auth = authenticate(
      {
        method,
        rawPath,
        rawQuery,
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        share: share || undefined,
        path: inShare.join('/'),
        sas: route?.sas ?? { scope: 'none', anyOf: [] },
      },
      { accountName, key, now: new Date() },
    );
    entry.auth = auth.scheme;
    if (!auth.ok) {
      const message = auth.code === 'AuthenticationFailed'
        ? 'Server failed to authenticate the request. Make sure the value of Authorization header or the SAS is formed correctly including the signature.'
        : auth.detail;
      return reject(req, res, auth.status, auth.code, message, auth.code === 'AuthenticationFailed' ? auth.detail : undefined);
    }
    if (!route) {
      return reject(req, res, 400, 'UnsupportedOperation', `The local File endpoint does not implement ${method} ${entry.path}?${[...query.keys()].filter((k) => k !== 'sig').join('&')}.`);
    }
    if (share && !isValidShareName(share)) {
      return reject(req, res, 400, 'InvalidResourceName', `"${share}" is not a valid share name (3-63 lower-case letters, digits and single hyphens).`);
    }
    try {
      await route.handle({ req, res, query, share, segments: inShare, entry });
    } catch (err) {
      if (err instanceof StoreError) return reject(req, res, err.status, err.code, err.message);
      throw err;
    }
  }

  // -- routing -----------------------------------------------------------------------------

  const FILE_READ: SasRequirement = { scope: 'file', anyOf: ['r'] };
  const FILE_WRITE: SasRequirement = { scope: 'file', anyOf: ['w'] };
  const NO_SAS: SasRequirement = { scope: 'none', anyOf: [] };

  function pickRoute(method: string, query: Map<string, string>, depth: number, xMsType: string | undefined): Route | undefined {
    const restype = query.get('restype');
    const comp = query.get('comp');
    if (depth === 0) {
      if (method === 'GET' && comp === 'list') return { kind: 'service.listShares', sas: NO_SAS, handle: listShares };
      return undefined;
    }
    if (restype === 'share') {
      if (depth !== 1 || comp) return undefined;
      if (method === 'PUT') return { kind: 'share.create', sas: NO_SAS, handle: createShare };
      if (method === 'GET' || method === 'HEAD') return { kind: 'share.properties', sas: NO_SAS, handle: shareProperties };
      if (method === 'DELETE') return { kind: 'share.delete', sas: NO_SAS, handle: deleteShare };
      return undefined;
    }
    if (restype === 'directory') {
      const dirSas = (anyOf: SasRequirement['anyOf']): SasRequirement => ({ scope: 'directory', anyOf });
      if (method === 'GET' && comp === 'list') return { kind: 'dir.list', sas: dirSas(['l']), handle: listDirectory };
      if (comp) {
        if (method === 'PUT' && (comp === 'metadata' || comp === 'properties')) return { kind: `dir.set${comp === 'metadata' ? 'Metadata' : 'Properties'}`, sas: dirSas(['w']), handle: directoryProperties };
        return undefined;
      }
      if (method === 'PUT') return { kind: 'dir.create', sas: dirSas(['c', 'w']), handle: createDirectory };
      if (method === 'GET' || method === 'HEAD') return { kind: 'dir.properties', sas: dirSas(['r']), handle: directoryProperties };
      if (method === 'DELETE') return { kind: 'dir.delete', sas: dirSas(['d']), handle: deleteDirectory };
      return undefined;
    }
    if (restype || depth < 2) return undefined;
    if (method === 'PUT') {
      if (comp === 'range') return { kind: 'file.putRange', sas: FILE_WRITE, handle: putRange };
      if (comp === 'properties') return { kind: 'file.setProperties', sas: FILE_WRITE, handle: setFileProperties };
      if (comp === 'metadata') return { kind: 'file.setMetadata', sas: FILE_WRITE, handle: setFileMetadata };
      if (!comp && xMsType?.toLowerCase() === 'file') return { kind: 'file.create', sas: { scope: 'file', anyOf: ['c', 'w'] }, handle: createFile };
      return undefined;
    }
    if (comp) return undefined;
    if (method === 'GET') return { kind: 'file.download', sas: FILE_READ, handle: download };
    if (method === 'HEAD') return { kind: 'file.properties', sas: FILE_READ, handle: fileProperties };
    if (method === 'DELETE') return { kind: 'file.delete', sas: { scope: 'file', anyOf: ['d'] }, handle: deleteFile };
    return undefined;
  }

  // -- service and shares ------------------------------------------------------------------

  async function listShares({ res, query }: RequestContext): Promise<void> {
    const prefix = query.get('prefix');
    const shares = [];
    for (const name of await store.listShares()) {
      if (prefix && !name.startsWith(prefix)) continue;
      const info = await store.info(store.shareDir(name));
      if (info) shares.push({ name, etag: info.etag, lastModified: info.lastModified });
    }
    sendXml(res, 200, listSharesXml(`${endpoint}/`, shares, prefix));
  }

  async function createShare({ req, res, share }: RequestContext): Promise<void> {
    await drain(req);
    await store.createShare(share);
    const info = await store.info(store.shareDir(share));
    sendEmpty(res, 201, info ? entityHeaders(info) : {});
  }

  async function shareProperties({ req, res, share }: RequestContext): Promise<void> {
    await store.requireShare(share);
    const info = (await store.info(store.shareDir(share)))!;
    sendEmpty(res, 200, { ...entityHeaders(info), 'x-ms-share-quota': '5120' }, req.method === 'HEAD');
  }

  async function deleteShare({ res, share }: RequestContext): Promise<void> {
    await store.deleteShare(share);
    sendEmpty(res, 202, {});
  }

  // -- directories -------------------------------------------------------------------------

  async function createDirectory({ req, res, share, segments }: RequestContext): Promise<void> {
    await drain(req);
    if (segments.length === 0) {
      await store.requireShare(share);
      throw new StoreError(409, 'ResourceAlreadyExists', 'The root directory of a share always exists.');
    }
    await store.createDirectory(share, segments);
    const info = (await store.info(store.resolve(share, segments)))!;
    sendEmpty(res, 201, entityHeaders(info));
  }

  async function directoryProperties({ req, res, share, segments }: RequestContext): Promise<void> {
    await drain(req);
    const info = await store.require(share, segments, 'directory');
    sendEmpty(res, 200, entityHeaders(info), req.method === 'HEAD');
  }

  async function deleteDirectory({ res, share, segments }: RequestContext): Promise<void> {
    await store.deleteDirectory(share, segments);
    sendEmpty(res, 202, {});
  }

  async function listDirectory({ req, res, query, share, segments }: RequestContext): Promise<void> {
    await store.require(share, segments, 'directory');
    const prefix = query.get('prefix') || undefined;
    const marker = query.get('marker') || undefined;
    const maxParam = query.get('maxresults');
    let maxResults: number | undefined;
    if (maxParam !== undefined) {
      maxResults = Number(maxParam);
      if (!Number.isInteger(maxResults) || maxResults < 1) {
        throw new StoreError(400, 'OutOfRangeQueryParameterValue', `maxresults must be a positive integer, got "${maxParam}".`);
      }
    }
    const limit = Math.min(maxResults ?? DEFAULT_MAX_RESULTS, DEFAULT_MAX_RESULTS);
    const include = listIncludes(query.get('include'));
    const extendedInfo = parseBooleanHeader(headerValue(req, 'x-ms-file-extended-info'), 'x-ms-file-extended-info');
    // The marker is the name of the first entry of the next page (entries are in name order).
    const all = (await store.list(share, segments)).filter(
      (e) => (!prefix || e.name.startsWith(prefix)) && (!marker || e.name >= marker),
    );
    const page = all.slice(0, limit);
    sendXml(
      res,
      200,
      listDirectoryXml({
        serviceEndpoint: `${endpoint}/`,
        share,
        directoryPath: segments.join('/'),
        prefix,
        marker,
        maxResults,
        entries: page,
        nextMarker: all.length > limit ? all[limit]!.name : '',
        include,
        extendedInfo,
      }),
    );
  }

  // -- files -------------------------------------------------------------------------------

  async function createFile({ req, res, share, segments }: RequestContext): Promise<void> {
    await drain(req);
    const size = parseSize(headerValue(req, 'x-ms-content-length'), 'x-ms-content-length');
    const props: FileProps = { ...httpPropsFromHeaders(req), metadata: metadataFromHeaders(req) };
    const lockKey = `${share}/${segments.join('/').toLowerCase()}`;
    await store.withLock(lockKey, () => store.createFile(share, segments, size, props));
    const info = (await store.info(store.resolve(share, segments)))!;
    sendEmpty(res, 201, entityHeaders(info));
  }

  async function putRange({ req, res, share, segments, entry }: RequestContext): Promise<void> {
    const rangeHeader = headerValue(req, 'x-ms-range') ?? headerValue(req, 'range');
    const write = (headerValue(req, 'x-ms-write') ?? '').toLowerCase();
    if (write !== 'update' && write !== 'clear') {
      await drain(req);
      throw new StoreError(400, 'InvalidHeaderValue', 'x-ms-write must be "update" or "clear".');
    }
    const range = parseRange(rangeHeader);
    if (!range || range.end === undefined) {
      await drain(req);
      throw new StoreError(400, 'InvalidHeaderValue', 'Put Range needs x-ms-range (or Range) of the form bytes=<start>-<end>.');
    }
    entry.range = `${range.start}-${range.end}`;
    const length = range.end - range.start + 1;
    if (write === 'update' && length > MAX_RANGE_BYTES) {
      await drain(req);
      throw new StoreError(413, 'RequestBodyTooLarge', `A range may hold at most ${MAX_RANGE_BYTES} bytes.`);
    }
    const body = await readBody(req, write === 'update' ? length : 0);
    if (write === 'update' && body.length !== length) {
      throw new StoreError(400, 'InvalidHeaderValue', `The body has ${body.length} bytes but the range ${range.start}-${range.end} needs ${length}.`);
    }
    const transactionalMd5 = headerValue(req, 'content-md5');
    if (transactionalMd5 && write === 'update' && createHash('md5').update(body).digest('base64') !== transactionalMd5) {
      throw new StoreError(400, 'Md5Mismatch', 'The Content-MD5 of the range does not match its body.');
    }
    const lockKey = `${share}/${segments.join('/').toLowerCase()}`;
    await store.withLock(lockKey, async () => {
      const info = await store.require(share, segments, 'file');
      if (range.end! >= info.size) {
        throw new StoreError(416, 'InvalidRange', `The range ${range.start}-${range.end} is outside the file's ${info.size} bytes; resize the file first.`);
      }
      const props = await store.readProps(share, segments);
      await store.writeRange(share, segments, range.start, write === 'update' ? body : null, length);
      await store.saveProps(share, segments, store.resolve(share, segments), props);
    });
    const info = (await store.info(store.resolve(share, segments)))!;
    sendEmpty(res, 201, entityHeaders(info));
  }

  async function setFileProperties({ req, res, share, segments }: RequestContext): Promise<void> {
    await drain(req);
    const lockKey = `${share}/${segments.join('/').toLowerCase()}`;
    await store.withLock(lockKey, async () => {
      await store.require(share, segments, 'file');
      const old = await store.readProps(share, segments);
      const sizeHeader = headerValue(req, 'x-ms-content-length');
      if (sizeHeader !== undefined) await store.resize(share, segments, parseSize(sizeHeader, 'x-ms-content-length'));
      await store.touch(store.resolve(share, segments));
      // As in the service: content headers not sent are cleared.
      await store.saveProps(share, segments, store.resolve(share, segments), { ...httpPropsFromHeaders(req), metadata: old.metadata });
    });
    const info = (await store.info(store.resolve(share, segments)))!;
    sendEmpty(res, 200, entityHeaders(info));
  }

  async function setFileMetadata({ req, res, share, segments }: RequestContext): Promise<void> {
    await drain(req);
    const lockKey = `${share}/${segments.join('/').toLowerCase()}`;
    await store.withLock(lockKey, async () => {
      await store.require(share, segments, 'file');
      const old = await store.readProps(share, segments);
      await store.touch(store.resolve(share, segments));
      await store.saveProps(share, segments, store.resolve(share, segments), { ...old, metadata: metadataFromHeaders(req) });
    });
    const info = (await store.info(store.resolve(share, segments)))!;
    sendEmpty(res, 200, entityHeaders(info));
  }

  async function fileProperties({ res, share, segments }: RequestContext): Promise<void> {
    const info = await store.require(share, segments, 'file');
    const props = await store.readProps(share, segments);
    sendEmpty(res, 200, { ...fileHeaders(info, props), 'content-length': String(info.size) }, true);
  }

  async function download({ req, res, share, segments, entry }: RequestContext): Promise<void> {
    const info = await store.require(share, segments, 'file');
    const props = await store.readProps(share, segments);
    const rangeHeader = headerValue(req, 'x-ms-range') ?? headerValue(req, 'range');
    const headers = fileHeaders(info, props);
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    if (rangeHeader) {
      const range = parseRange(rangeHeader);
      if (!range) throw new StoreError(400, 'InvalidHeaderValue', `The range "${rangeHeader}" is not of the form bytes=<start>-[<end>].`);
      if (range.start >= info.size) {
        res.setHeader('content-range', `bytes */${info.size}`);
        throw new StoreError(416, 'InvalidRange', `The range starts at ${range.start}, beyond the file's ${info.size} bytes.`);
      }
      start = range.start;
      end = Math.min(range.end ?? info.size - 1, info.size - 1);
      status = 206;
      entry.range = `${start}-${end}`;
      headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
      // On a ranged read the whole file's MD5 travels as x-ms-content-md5, as in the service.
      if (props.contentMD5) {
        delete headers['content-md5'];
        headers['x-ms-content-md5'] = props.contentMD5;
      }
    }
    const length = Math.max(0, end - start + 1);
    headers['content-length'] = String(length);
    res.writeHead(status, headers);
    if (length === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(store.resolve(share, segments), { start, end });
    await new Promise<void>((resolve) => {
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  }

  async function deleteFile({ res, share, segments }: RequestContext): Promise<void> {
    await store.withLock(`${share}/${segments.join('/').toLowerCase()}`, () => store.deleteFile(share, segments));
    sendEmpty(res, 202, {});
  }

  // -- start -------------------------------------------------------------------------------

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const protocol = options.tls ? 'https' : 'http';
  endpoint = `${protocol}://${options.host ?? '127.0.0.1'}:${port}/${accountName}`;

  return {
    endpoint,
    connectionString: `DefaultEndpointsProtocol=${protocol};AccountName=${accountName};AccountKey=${accountKey};FileEndpoint=${endpoint}`,
    accountName,
    accountKey,
    log: {
      count: (kind?: string) => (kind ? entries.filter((e) => e.kind === kind).length : entries.length),
      entries: () => entries.map((e) => ({ ...e })),
      reset: () => {
        entries.length = 0;
      },
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        plain.closeAllConnections();
        secure?.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// helpers

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function listIncludes(value: string | undefined): Set<ListInclude> {
  const out = new Set<ListInclude>();
  if (value === undefined) return out;
  for (const item of value.split(',')) {
    const known = LIST_INCLUDES.find((k) => k === item);
    if (!known) throw new StoreError(400, 'InvalidQueryParameterValue', `include: "${item}" is not one of ${LIST_INCLUDES.join(', ')}.`);
    // Permissions (SDDL) are not modelled by this endpoint: refused rather than made up.
    if (known === 'PermissionKey') throw new StoreError(400, 'InvalidQueryParameterValue', 'include: PermissionKey is not supported by the local Files endpoint (it keeps no file permissions).');
    out.add(known);
  }
  return out;
}

function parseBooleanHeader(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new StoreError(400, 'InvalidHeaderValue', `${name} must be true or false, got "${value}".`);
}

function parseSize(value: string | undefined, name: string): number {
  const n = value === undefined ? NaN : Number(value);
  if (!/^\d+$/.test(value ?? '') || !Number.isSafeInteger(n) || n > MAX_FILE_BYTES) {
    throw new StoreError(400, 'InvalidHeaderValue', `${name} must be a byte count between 0 and 4 TiB, got "${value ?? ''}".`);
  }
  return n;
}

function parseRange(value: string | undefined): { start: number; end?: number } | undefined {
  const m = value ? /^bytes=(\d+)-(\d*)$/.exec(value.trim()) : null;
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start) return undefined;
  return { start, end };
}

function httpPropsFromHeaders(req: IncomingMessage): Omit<FileProps, 'metadata'> {
  const md5 = headerValue(req, 'x-ms-content-md5');
  if (md5 !== undefined && Buffer.from(md5, 'base64').length !== 16) {
    throw new StoreError(400, 'InvalidHeaderValue', 'x-ms-content-md5 must be the base64 of a 16-byte MD5 digest.');
  }
  const props: Omit<FileProps, 'metadata'> = {};
  if (md5) props.contentMD5 = md5;
  const map = [
    ['x-ms-content-type', 'contentType'],
    ['x-ms-content-encoding', 'contentEncoding'],
    ['x-ms-content-language', 'contentLanguage'],
    ['x-ms-content-disposition', 'contentDisposition'],
    ['x-ms-cache-control', 'cacheControl'],
  ] as const;
  for (const [h, k] of map) {
    const v = headerValue(req, h);
    if (v) props[k] = v;
  }
  return props;
}

function metadataFromHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-ms-meta-') && value !== undefined) out[name.slice(10)] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

function entityHeaders(info: { etag: string; lastModified: Date }): Record<string, string> {
  return { etag: info.etag, 'last-modified': info.lastModified.toUTCString() };
}

function fileHeaders(info: { etag: string; lastModified: Date }, props: FileProps): Record<string, string> {
  const h: Record<string, string> = {
    ...entityHeaders(info),
    'x-ms-type': 'File',
    'accept-ranges': 'bytes',
    'content-type': props.contentType ?? 'application/octet-stream',
  };
  if (props.contentMD5) h['content-md5'] = props.contentMD5;
  if (props.contentEncoding) h['content-encoding'] = props.contentEncoding;
  if (props.contentLanguage) h['content-language'] = props.contentLanguage;
  if (props.contentDisposition) h['content-disposition'] = props.contentDisposition;
  if (props.cacheControl) h['cache-control'] = props.cacheControl;
  for (const [k, v] of Object.entries(props.metadata)) h[`x-ms-meta-${k}`] = v;
  return h;
}

function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string>, isHead = false): void {
  // HEAD answers carry the entity's content-length; other empty answers say 0.
  res.writeHead(status, isHead ? headers : { ...headers, 'content-length': '0' });
  res.end();
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(buf.length) });
  res.end(buf);
}

function sendError(res: ServerResponse, isHead: boolean, status: number, code: string, message: string, detail?: string): void {
  const body = Buffer.from(errorXml(code, message, detail), 'utf8');
  res.writeHead(status, {
    'x-ms-error-code': code,
    'content-type': 'application/xml',
    'content-length': String(isHead ? 0 : body.length),
  });
  res.end(isHead ? undefined : body);
}

/** Answer an error after consuming whatever body the client is still sending. */
async function reject(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, detail?: string): Promise<void> {
  if (!req.complete) req.resume();
  sendError(res, req.method === 'HEAD', status, code, message, detail);
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.complete) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
  });
}

async function readBody(req: IncomingMessage, expected: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > Math.max(expected, 0) + 1) {
      throw new StoreError(400, 'InvalidHeaderValue', `The body is longer than the ${expected} bytes the range announces.`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
