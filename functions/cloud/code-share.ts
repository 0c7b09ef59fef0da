/**
 * The File Share that holds each service's code: one folder per service (`source:` in the
 * topology). This adapter mirrors local folders into the share (the CLI), names a folder's content
 * with a version (the image tag), and hands out short-lived read-only SAS URLs with a bash script
 * that fetches them, so a VM downloads the code straight from storage and the code never streams
 * through the function app. It knows nothing of orchestrations.
 *
 * SAS URLs are credentials-lite: anyone holding one can read that file until it expires. They go
 * straight into the command sent to the VM (`fetchScript`) and must never be put into an
 * orchestration's input, output or custom status, nor into a log or an error message.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import {
  FileSASPermissions,
  newPipeline,
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClient,
  type ShareDirectoryClient,
  type ShareFileClient,
} from '@azure/storage-file-share';
import { shellQuote } from './shell.js';
import { mapLimit } from '../platform/map-limit.js';

export interface UploadResult {
  /** Relative paths of files written, in order. */
  uploaded: string[];
  /** Relative paths of files whose content MD5 already matched. */
  unchanged: string[];
  /** Relative paths removed from the share because they are gone locally (directories end in `/`). */
  removed: string[];
}

export interface SasFileUrl {
  /** Path relative to the folder, `/`-separated. */
  path: string;
  /** A read-only SAS URL: a credential until it expires. */
  url: string;
}

interface RemoteTree {
  files: Map<string, number>; // relative path -> size
  /** Relative path -> ETag, as the listing gave it (the service changes it at every write of the file or its properties). */
  etags: Map<string, string>;
  dirs: Set<string>;
}

/**
 * Content MD5s read before, by file URL, each with the ETag it was read at: while a file's ETag is
 * the same, neither its content nor its Content-MD5 property changed, so a re-boot's code versions
 * cost the listing only. Per process; cleared when it grows past its bound.
 */
const md5ByEtag = new Map<string, { etag: string; md5: Buffer }>();
const MD5_CACHE_ENTRIES = 20_000;
/** An ETag as a listing or a header gives it (quoted or not): compared without the quotes. */
const bareEtag = (etag: string): string => etag.replace(/^(W\/)?"(.*)"$/, '$2');

interface LocalFile {
  rel: string;
  abs: string;
  size: number;
}

const DEFAULT_CONCURRENCY = 8;
/** Hex characters of the code version: 64 bits, plenty to tell versions of one service apart. */
const VERSION_HEX_LENGTH = 16;
/** Names the File service refuses; checked locally so the error names the local file. */
const INVALID_NAME_CHARS = /["\\:|<>*?\u0000-\u001f]/;

export class CodeShare {
  private readonly share: ShareClient;

  constructor(
    service: ShareServiceClient,
    readonly shareName: string,
    /** A CA the File endpoint chains to besides the public ones (local mode); the VMs' fetches trust it too. */
    readonly caCert?: string,
  ) {
    this.share = service.getShareClient(shareName);
  }

  /**
   * Production: the connection string is read from an app setting (a Key Vault reference in Azure).
   * `caCert`: a CA the File endpoint's certificate chains to, besides the public ones (local mode).
   */
  static fromConnectionString(connectionString: string, shareName: string, options: { caCert?: string } = {}): CodeShare {
    if (!options.caCert) return new CodeShare(ShareServiceClient.fromConnectionString(connectionString), shareName);
    return new CodeShare(shareServiceTrusting(connectionString, options.caCert), shareName, options.caCert);
  }

  /** Production alternative: account URL (https://<account>.file.core.windows.net) and account key. */
  static fromAccountKey(accountUrl: string, accountName: string, accountKey: string, shareName: string): CodeShare {
    return new CodeShare(new ShareServiceClient(accountUrl, new StorageSharedKeyCredential(accountName, accountKey)), shareName);
  }

  /**
   * From the app setting that holds the connection string. Activities pass the setting's *name*;
   * the value is read here and never leaves this process.
   */
  static fromSetting(settingName: string, shareName: string, env: NodeJS.ProcessEnv = process.env, options: { caCert?: string } = {}): CodeShare {
    const value = env[settingName];
    if (!value) {
      throw new Error(`Code share "${shareName}": app setting ${settingName} is empty or missing; set it to the storage account's connection string (a Key Vault reference in Azure).`);
    }
    return CodeShare.fromConnectionString(value, shareName, options);
  }

  async ensureShare(): Promise<void> {
    await this.call('ensure the share exists', '', () => this.share.createIfNotExists());
  }

  /**
   * Mirror `localDir` into `sharePath`: create directories, upload files whose content MD5
   * differs (the MD5 is stored as the file's Content-MD5 property), and delete what no longer
   * exists locally under that path. Running it twice uploads nothing the second time.
   */
  async uploadDirectory(localDir: string, sharePath: string, options: { concurrency?: number } = {}): Promise<UploadResult> {
    const base = splitSharePath(sharePath);
    const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    const local = await walkLocal(localDir);

    await this.ensureDirectories(base);
    const remote = await this.listTree(base);
    const result: UploadResult = { uploaded: [], unchanged: [], removed: [] };
    const localDirs = new Set(local.dirs);
    const localFiles = new Map(local.files.map((f) => [f.rel, f]));

    // A name that changed kind (file <-> directory) goes first, so the new kind can be created.
    for (const rel of [...remote.files.keys()]) {
      if (localDirs.has(rel)) {
        await this.call('delete a file that became a directory', join(base, rel), () => this.fileClient(base, rel).delete());
        remote.files.delete(rel);
        result.removed.push(rel);
      }
    }
    for (const rel of sortDeepestFirst([...remote.dirs].filter((d) => localFiles.has(d)))) {
      await this.deleteTree(base, rel, remote, result);
    }

    for (const rel of [...local.dirs].sort(byDepth)) {
      if (remote.dirs.has(rel)) continue;
      await this.call('create directory', join(base, rel), () => this.dirClient([...base, ...rel.split('/')]).createIfNotExists());
    }

    await forEachLimit(local.files, concurrency, async (file) => {
      const md5 = await md5File(file.abs);
      const remoteSize = remote.files.get(file.rel);
      if (remoteSize === file.size) {
        const props = await this.call('read file properties', join(base, file.rel), () => this.fileClient(base, file.rel).getProperties());
        if (props.contentMD5 && Buffer.from(props.contentMD5).equals(md5)) {
          result.unchanged.push(file.rel);
          return;
        }
      }
      await this.call('upload file', join(base, file.rel), () =>
        this.fileClient(base, file.rel).uploadFile(file.abs, { fileHttpHeaders: { fileContentMD5: md5 }, concurrency: 2 }),
      );
      result.uploaded.push(file.rel);
    });

    await forEachLimit([...remote.files.keys()].filter((rel) => !localFiles.has(rel)), concurrency, async (rel) => {
      await this.call('delete a file gone locally', join(base, rel), () => this.fileClient(base, rel).delete());
      result.removed.push(rel);
    });
    for (const rel of sortDeepestFirst([...remote.dirs].filter((d) => !localDirs.has(d) && !localFiles.has(d)))) {
      await this.call('delete a directory gone locally', join(base, rel), () => this.dirClient([...base, ...rel.split('/')]).deleteIfExists());
      result.removed.push(`${rel}/`);
    }

    result.uploaded.sort();
    result.unchanged.sort();
    result.removed.sort();
    return result;
  }

  /**
   * A content hash of the folder: the first 16 hex characters of sha256 over the sorted lines
   * `relativePath NUL contentMD5(hex) LF`. The same content gives the same version wherever it
   * lives; any content change, addition, removal or rename changes it; empty directories do not
   * count. It reads the listing and each file's properties; a file is downloaded (and hashed)
   * only when it has no Content-MD5 property, e.g. because it was copied in by another tool.
   */
  async codeVersion(sharePath: string): Promise<string> {
    const base = splitSharePath(sharePath);
    const tree = await this.listExisting(base, 'compute the code version');
    const lines = await mapLimit([...tree.files.keys()], DEFAULT_CONCURRENCY, async (rel) => {
      const file = this.fileClient(base, rel);
      const etag = tree.etags.get(rel);
      // Keyed by the file's URL without its query (a SAS client's URL carries the token).
      const key = file.url.split('?')[0]!;
      const known = etag ? md5ByEtag.get(key) : undefined;
      let md5: Buffer;
      if (known && known.etag === etag) md5 = known.md5;
      else {
        const props = await this.call('read file properties', join(base, rel), () => file.getProperties());
        md5 = props.contentMD5
          ? Buffer.from(props.contentMD5)
          : createHash('md5').update(await this.call('download a file without Content-MD5', join(base, rel), () => file.downloadToBuffer())).digest();
        // Kept under the ETag the properties were read at: a write between the listing and this read leaves nothing stale.
        if (props.etag) {
          if (md5ByEtag.size >= MD5_CACHE_ENTRIES) md5ByEtag.clear();
          md5ByEtag.set(key, { etag: bareEtag(props.etag), md5 });
        }
      }
      return `${rel}\0${md5.toString('hex')}\n`;
    });
    const hash = createHash('sha256');
    for (const line of lines.sort()) hash.update(line, 'utf8');
    return hash.digest('hex').slice(0, VERSION_HEX_LENGTH);
  }

  /**
   * One read-only SAS URL per file under `sharePath`, valid for `expiresInMs`. The URLs are
   * credentials: put them only into the command sent to the VM (see `fetchScript`), never into
   * an orchestration's input/output/status, a log or an error.
   */
  async readOnlySasUrls(sharePath: string, options: { expiresInMs: number }): Promise<SasFileUrl[]> {
    if (!(options.expiresInMs > 0)) throw new Error(`Code share "${this.shareName}": expiresInMs must be positive, got ${options.expiresInMs}.`);
    const base = splitSharePath(sharePath);
    const tree = await this.listExisting(base, 'issue read-only SAS URLs');
    const expiresOn = new Date(Date.now() + options.expiresInMs);
    const permissions = FileSASPermissions.parse('r');
    return [...tree.files.keys()].sort().map((rel) => {
      try {
        return { path: rel, url: this.fileClient(base, rel).generateSasUrl({ permissions, expiresOn }) };
      } catch (err) {
        throw new Error(
          `Code share "${this.shareName}": cannot sign a SAS URL for "${join(base, rel)}": ${(err as Error).message}. ` +
            'Build the client from a connection string or an account key (StorageSharedKeyCredential).',
        );
      }
    });
  }

  // -- internals ---------------------------------------------------------------------------

  private dirClient(segments: string[]): ShareDirectoryClient {
    return segments.length === 0 ? this.share.rootDirectoryClient : this.share.getDirectoryClient(segments.join('/'));
  }

  private fileClient(base: string[], rel: string): ShareFileClient {
    return this.share.rootDirectoryClient.getFileClient([...base, rel].join('/'));
  }

  private async ensureDirectories(base: string[]): Promise<void> {
    for (let i = 1; i <= base.length; i++) {
      const segs = base.slice(0, i);
      await this.call('create directory', segs.join('/'), () => this.dirClient(segs).createIfNotExists());
    }
  }

  private async listExisting(base: string[], step: string): Promise<RemoteTree> {
    try {
      return await this.listTree(base);
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new Error(
          `Code share "${this.shareName}": cannot ${step}: folder "${base.join('/') || '/'}" does not exist in the share. ` +
            "Upload the service's code into the share first (CodeShare.uploadDirectory, used by the CLI).",
        );
      }
      throw err;
    }
  }

  /** Every file (with its size) and directory below `base`, as paths relative to it. */
  private async listTree(base: string[]): Promise<RemoteTree> {
    const tree: RemoteTree = { files: new Map(), etags: new Map(), dirs: new Set() };
    let level: string[] = [''];
    while (level.length > 0) {
      const next: string[] = [];
      await forEachLimit(level, DEFAULT_CONCURRENCY, async (rel) => {
        const segs = rel ? [...base, ...rel.split('/')] : base;
        await this.call('list directory', segs.join('/'), async () => {
          for await (const item of this.dirClient(segs).listFilesAndDirectories({ includeEtag: true })) {
            const child = rel ? `${rel}/${item.name}` : item.name;
            if (item.kind === 'directory') {
              tree.dirs.add(child);
              next.push(child);
            } else {
              tree.files.set(child, item.properties.contentLength ?? -1);
              if (item.properties.etag) tree.etags.set(child, bareEtag(item.properties.etag));
            }
          }
        }, true);
      });
      level = next;
    }
    return tree;
  }

  private async deleteTree(base: string[], rel: string, remote: RemoteTree, result: UploadResult): Promise<void> {
    for (const f of [...remote.files.keys()].filter((p) => p.startsWith(`${rel}/`))) {
      await this.call('delete a file under a replaced directory', join(base, f), () => this.fileClient(base, f).delete());
      remote.files.delete(f);
      result.removed.push(f);
    }
    for (const d of sortDeepestFirst([...remote.dirs].filter((p) => p === rel || p.startsWith(`${rel}/`)))) {
      await this.call('delete a directory that became a file', join(base, d), () => this.dirClient([...base, ...d.split('/')]).delete());
      remote.dirs.delete(d);
      result.removed.push(`${d}/`);
    }
  }

  /**
   * Run one SDK call; a failure becomes an error naming the share, the path, the step and the
   * service's answer (status and error code), without the request (URLs may carry a SAS).
   */
  private async call<T>(step: string, target: string, fn: () => Promise<T>, passNotFound = false): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (passNotFound && statusOf(err) === 404) throw err;
      const status = statusOf(err);
      // HEAD failures carry the service's error code in details only.
      const e = err as { code?: string; details?: { errorCode?: string } };
      const code = e.code ?? e.details?.errorCode;
      const cause = status ? `HTTP ${status}${code ? ` ${code}` : ''}` : (err as Error).message;
      const hint =
        status === 403 ? 'Check that the connection string or account key of the code share is current.'
        : status === 404 ? 'Check the share name and that the share exists (ensureShare).'
        : 'Retry; if it persists, check that the storage account is reachable.';
      throw new Error(`Code share "${this.shareName}": ${step} "${target || '/'}" failed: ${cause}. ${hint}`);
    }
  }
}

/**
 * A bash script that creates `targetDir` and fetches every URL into its relative path, creating
 * subdirectories; it stops at the first failure (`set -e`, `curl -f`). Every value is
 * shell-quoted. The script holds SAS URLs: send it to the VM and do not log or store it. It does
 * not delete anything: give each code version its own target directory. `caCert`: a CA curl trusts
 * besides the system's (local mode), written to a temporary file the script removes.
 */
export function fetchScript(urls: readonly SasFileUrl[], targetDir: string, options: { caCert?: string } = {}): string {
  if (!targetDir || targetDir.includes('\0')) throw new Error('fetchScript: targetDir must be a non-empty path.');
  const target = targetDir.replace(/\/+$/, '') || '/';
  const dirs = new Set<string>();
  const fetches: string[] = [];
  for (const { path: rel, url } of urls) {
    const segs = rel.split('/');
    if (segs.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) {
      throw new Error(`fetchScript: "${rel}" is not a relative file path (empty, "." or ".." segments are refused).`);
    }
    if (!/^https?:\/\//i.test(url)) throw new Error(`fetchScript: the URL for "${rel}" is not http(s).`);
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
    const dest = `${target === '/' ? '' : target}/${rel}`;
    fetches.push(`curl -fsS --retry 3 --proto '=http,https'${options.caCert ? ' --cacert "$ca_file"' : ''} -o ${shellQuote(dest)} --url ${shellQuote(url)}`);
  }
  const mkdirs = [...dirs].sort(byDepth).map((d) => `mkdir -p -- ${shellQuote(`${target === '/' ? '' : target}/${d}`)}`);
  const trust = options.caCert
    ? ['ca_file="$(mktemp)"', `trap 'rm -f -- "$ca_file"' EXIT`, `printf '%s\\n' ${shellQuote(options.caCert.trim())} > "$ca_file"`]
    : [];
  return ['#!/usr/bin/env bash', 'set -euo pipefail', ...trust, `mkdir -p -- ${shellQuote(target)}`, ...mkdirs, ...fetches, ''].join('\n');
}

// ---------------------------------------------------------------------------------------------
// helpers

function splitSharePath(sharePath: string): string[] {
  const segs = sharePath.split('/').filter((s) => s !== '');
  for (const s of segs) {
    if (s === '.' || s === '..' || INVALID_NAME_CHARS.test(s)) throw new Error(`Code share: "${sharePath}" is not a valid folder path in a share.`);
  }
  return segs;
}

function join(base: string[], rel: string): string {
  return [...base, rel].filter(Boolean).join('/');
}

function byDepth(a: string, b: string): number {
  return a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0);
}

function sortDeepestFirst(paths: string[]): string[] {
  return [...paths].sort((a, b) => -byDepth(a, b));
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' ? s : undefined;
}

async function walkLocal(root: string): Promise<{ files: LocalFile[]; dirs: string[] }> {
  const rootStat = await fsp.stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new Error(`Code share: local folder "${root}" does not exist or is not a directory.`);
  const files: LocalFile[] = [];
  const dirs: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const abs = rel ? path.join(root, ...rel.split('/')) : root;
    for (const entry of await fsp.readdir(abs, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (INVALID_NAME_CHARS.test(entry.name) || entry.name.length > 255) {
        throw new Error(`Code share: local file "${path.join(abs, entry.name)}" has a name Azure Files cannot hold (" \\ : | < > * ? or control characters); rename it.`);
      }
      const childAbs = path.join(abs, entry.name);
      if (entry.isDirectory()) {
        dirs.push(childRel);
        await visit(childRel);
      } else if (entry.isFile()) {
        files.push({ rel: childRel, abs: childAbs, size: (await fsp.stat(childAbs)).size });
      } else if (entry.isSymbolicLink()) {
        const st = await fsp.stat(childAbs).catch(() => undefined);
        if (st?.isFile()) files.push({ rel: childRel, abs: childAbs, size: st.size });
        else throw new Error(`Code share: "${childAbs}" is a symbolic link to a directory or to nothing; replace it with a real folder or file.`);
      }
      // Sockets, FIFOs and devices are not code: skipped.
    }
  };
  await visit('');
  return { files, dirs };
}

function md5File(abs: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    createReadStream(abs)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest()));
  });
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  await mapLimit(items, limit, fn);
}

/** A ShareServiceClient for a SharedKey connection string whose requests go through an agent trusting `caCert`. */
export function shareServiceTrusting(connectionString: string, caCert: string): ShareServiceClient {
  const parts = new Map(
    connectionString
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).toLowerCase(), p.slice(p.indexOf('=') + 1)] as const),
  );
  const account = parts.get('accountname');
  const key = parts.get('accountkey');
  const endpoint = parts.get('fileendpoint') ?? (account ? `${parts.get('defaultendpointsprotocol') ?? 'https'}://${account}.file.${parts.get('endpointsuffix') ?? 'core.windows.net'}` : undefined);
  if (!account || !key || !endpoint) throw new Error('Code share: the connection string needs AccountName, AccountKey and a file endpoint.');
  const pipeline = newPipeline(new StorageSharedKeyCredential(account, key));
  // The CA matters only to TLS: an http endpoint is left to the SDK (and to the account's refusal).
  if (!endpoint.toLowerCase().startsWith('https:')) return new ShareServiceClient(endpoint, pipeline);
  const agent = new https.Agent({ ca: caCert, keepAlive: true });
  pipeline.factories.unshift({
    create: (next) => ({
      sendRequest: (request) => {
        request.agent = agent;
        return next.sendRequest(request);
      },
    }),
  });
  return new ShareServiceClient(endpoint, pipeline);
}
