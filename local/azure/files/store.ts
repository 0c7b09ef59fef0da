/**
 * The share's content on the real filesystem: `<rootDir>/<share>/<path>` holds the bytes, so a
 * person (or a test) can look at what was uploaded with ordinary tools. File properties the
 * filesystem cannot hold (Content-MD5, content headers, metadata) live in a sidecar record under
 * `<rootDir>/.properties/<share>/`, keyed by a hash of the path; a record is only trusted while the
 * file's size and mtime still match, so edits made behind the emulator's back drop stale MD5s.
 * Share names cannot start with a dot, so `.properties` never collides with a share.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, type BigIntStats } from 'node:fs';
import path from 'node:path';

export interface FileHttpProps {
  contentMD5?: string; // base64 of the 16-byte digest
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
}

export interface FileProps extends FileHttpProps {
  metadata: Record<string, string>;
}

interface PropsRecord extends FileProps {
  size: number;
  mtimeNs: string;
}

export interface EntryInfo {
  kind: 'file' | 'directory';
  size: number;
  etag: string;
  lastModified: Date;
  created: Date;
  /** The entry's file id (its inode here; a 64-bit number in the service too). */
  fileId: string;
}

export interface ListedEntry extends EntryInfo {
  name: string;
}

/** A typed failure the HTTP layer maps to a status and an error code. */
export class StoreError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SHARE_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
/** Characters the File service refuses in file and directory names. */
const INVALID_NAME_CHARS = /["\\/:|<>*?\u0000-\u001f]/;

export function isValidShareName(name: string): boolean {
  return SHARE_NAME.test(name);
}

export function validatePathSegments(segments: string[]): void {
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || INVALID_NAME_CHARS.test(s) || s.length > 255) {
      throw new StoreError(400, 'InvalidResourceName', `The name "${s}" is not a valid file or directory name (empty, "." or "..", longer than 255, or containing " \\ / : | < > * ? or control characters).`);
    }
  }
}

export class ShareStore {
  /** Serializes writers per file so size/mtime and the properties record stay consistent. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly rootDir: string) {}

  shareDir(share: string): string {
    return path.join(this.rootDir, share);
  }

  /**
   * Absolute path of `segments` inside `share`; segments are validated first. Names are
   * case-insensitive and case-preserving, as in Azure Files: a segment addresses the existing entry
   * whose name differs from it only in case.
   */
  resolve(share: string, segments: string[]): string {
    validatePathSegments(segments);
    let at = this.shareDir(share);
    for (const segment of segments) at = path.join(at, existingCase(at, segment));
    return at;
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  // -- shares ------------------------------------------------------------------------------

  async shareExists(share: string): Promise<boolean> {
    return (await statOrUndefined(this.shareDir(share)))?.isDirectory() ?? false;
  }

  async requireShare(share: string): Promise<void> {
    if (!(await this.shareExists(share))) throw new StoreError(404, 'ShareNotFound', `The share "${share}" does not exist.`);
  }

  async createShare(share: string): Promise<void> {
    await fsp.mkdir(this.rootDir, { recursive: true });
    try {
      await fsp.mkdir(this.shareDir(share));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError(409, 'ShareAlreadyExists', `The share "${share}" already exists.`);
      throw err;
    }
  }

  async deleteShare(share: string): Promise<void> {
    await this.requireShare(share);
    await fsp.rm(this.shareDir(share), { recursive: true, force: true });
    await fsp.rm(this.propsDir(share), { recursive: true, force: true });
  }

  async listShares(): Promise<string[]> {
    const names = await fsp.readdir(this.rootDir).catch(() => [] as string[]);
    const out: string[] = [];
    for (const n of names) if (isValidShareName(n) && (await this.shareExists(n))) out.push(n);
    return out.sort();
  }

  // -- entries -----------------------------------------------------------------------------

  async info(abs: string): Promise<EntryInfo | undefined> {
    // lstat: a symbolic link placed in the folder by hand is neither a file nor a directory of
    // the share, so nothing can be read or written outside rootDir through one.
    const st = await statOrUndefined(abs, true);
    if (!st || (!st.isFile() && !st.isDirectory())) return undefined;
    return {
      kind: st.isFile() ? 'file' : 'directory',
      size: Number(st.size),
      etag: `"0x${st.mtimeNs.toString(16).toUpperCase()}${st.isFile() ? 'F' : 'D'}"`,
      lastModified: new Date(Number(st.mtimeMs)),
      created: new Date(Number(st.birthtimeMs) || Number(st.mtimeMs)),
      fileId: st.ino.toString(),
    };
  }

  /**
   * A write of properties or metadata only: as in the service, the entry's ETag and Last-Modified
   * change (both come from its mtime here), though its content did not.
   */
  async touch(abs: string): Promise<void> {
    const st = await fsp.stat(abs, { bigint: true });
    // At least a millisecond past the last write, so the mtime (and the ETag) always moves.
    const next = Math.max(Date.now(), Number(st.mtimeNs / 1_000_000n) + 1);
    await fsp.utimes(abs, new Date(Number(st.atimeNs / 1_000_000n)), new Date(next));
  }

  /** Fails with ParentNotFound unless the directory holding the last segment exists. */
  async requireParent(share: string, segments: string[]): Promise<void> {
    await this.requireShare(share);
    const parent = await this.info(this.resolve(share, segments.slice(0, -1)));
    if (parent?.kind !== 'directory') throw new StoreError(404, 'ParentNotFound', `The parent directory of "${segments.join('/')}" does not exist.`);
  }

  /** The entry of the given kind, or ResourceNotFound / ParentNotFound. */
  async require(share: string, segments: string[], kind: 'file' | 'directory'): Promise<EntryInfo> {
    await this.requireShare(share);
    const found = await this.info(this.resolve(share, segments));
    if (found?.kind === kind) return found;
    if (segments.length > 0) await this.requireParent(share, segments);
    throw new StoreError(404, 'ResourceNotFound', `The ${kind} "${segments.join('/') || '/'}" does not exist.`);
  }

  async createDirectory(share: string, segments: string[]): Promise<void> {
    await this.requireParent(share, segments);
    try {
      await fsp.mkdir(this.resolve(share, segments));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = await this.info(this.resolve(share, segments));
      if (existing?.kind === 'file') throw new StoreError(409, 'ResourceTypeMismatch', `"${segments.join('/')}" exists and is a file.`);
      throw new StoreError(409, 'ResourceAlreadyExists', `The directory "${segments.join('/')}" already exists.`);
    }
  }

  async deleteDirectory(share: string, segments: string[]): Promise<void> {
    if (segments.length === 0) throw new StoreError(400, 'InvalidUri', 'The root directory of a share cannot be deleted.');
    await this.require(share, segments, 'directory');
    try {
      await fsp.rmdir(this.resolve(share, segments));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY') throw new StoreError(409, 'DirectoryNotEmpty', `The directory "${segments.join('/')}" is not empty.`);
      throw err;
    }
  }

  async list(share: string, segments: string[]): Promise<ListedEntry[]> {
    const dir = this.resolve(share, segments);
    const names = await fsp.readdir(dir);
    const out: ListedEntry[] = [];
    for (const name of names) {
      // Files put into the folder by hand with names the service could not hold are not listed.
      if (INVALID_NAME_CHARS.test(name)) continue;
      const i = await this.info(path.join(dir, name));
      if (i) out.push({ name, ...i, size: i.kind === 'file' ? i.size : 0 });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // -- files -------------------------------------------------------------------------------

  /** Create (or replace) a file of `size` zero bytes with the given properties. */
  async createFile(share: string, segments: string[], size: number, props: FileProps): Promise<void> {
    await this.requireParent(share, segments);
    const abs = this.resolve(share, segments);
    const existing = await this.info(abs);
    if (existing?.kind === 'directory') throw new StoreError(409, 'ResourceTypeMismatch', `"${segments.join('/')}" exists and is a directory.`);
    const fh = await fsp.open(abs, 'w');
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    await this.saveProps(share, segments, abs, props);
  }

  async deleteFile(share: string, segments: string[]): Promise<void> {
    await this.require(share, segments, 'file');
    await fsp.rm(this.resolve(share, segments));
    await fsp.rm(this.propsPath(share, segments), { force: true });
  }

  /** Write `body` at [start, start+length) of an existing file; the range must lie inside it. */
  async writeRange(share: string, segments: string[], start: number, body: Buffer | null, length: number): Promise<void> {
    const abs = this.resolve(share, segments);
    const fh = await fsp.open(abs, 'r+');
    try {
      if (body) await fh.write(body, 0, body.length, start);
      else {
        const zeros = Buffer.alloc(Math.min(length, 1 << 20));
        for (let done = 0; done < length; done += zeros.length) {
          await fh.write(zeros, 0, Math.min(zeros.length, length - done), start + done);
        }
      }
    } finally {
      await fh.close();
    }
  }

  async resize(share: string, segments: string[], size: number): Promise<void> {
    await fsp.truncate(this.resolve(share, segments), size);
  }

  async readProps(share: string, segments: string[]): Promise<FileProps> {
    const abs = this.resolve(share, segments);
    const [st, raw] = await Promise.all([
      statOrUndefined(abs),
      fsp.readFile(this.propsPath(share, segments), 'utf8').catch(() => undefined),
    ]);
    if (!st || raw === undefined) return { metadata: {} };
    try {
      const rec = JSON.parse(raw) as PropsRecord;
      if (rec.size !== Number(st.size) || rec.mtimeNs !== st.mtimeNs.toString()) return { metadata: {} };
      const { size: _size, mtimeNs: _mtime, ...props } = rec;
      return props;
    } catch {
      return { metadata: {} };
    }
  }

  /** Record properties against the file's current size and mtime (call after every write). */
  async saveProps(share: string, segments: string[], abs: string, props: FileProps): Promise<void> {
    const st = await fsp.stat(abs, { bigint: true });
    const rec: PropsRecord = { ...props, size: Number(st.size), mtimeNs: st.mtimeNs.toString() };
    const target = this.propsPath(share, segments);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(rec));
    await fsp.rename(tmp, target);
  }

  private propsDir(share: string): string {
    return path.join(this.rootDir, '.properties', share);
  }

  private propsPath(share: string, segments: string[]): string {
    // One record per entry whatever the case it is addressed with.
    const key = createHash('sha256').update(segments.join('/').toLowerCase()).digest('hex');
    return path.join(this.propsDir(share), `${key}.json`);
  }
}

/** The name under which `dir` holds `name` case-insensitively (the name itself when none does). */
function existingCase(dir: string, name: string): string {
  if (existsSync(path.join(dir, name))) return name;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return name;
  }
  const lower = name.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower) ?? name;
}

async function statOrUndefined(abs: string, noFollow = false): Promise<BigIntStats | undefined> {
  try {
    return await (noFollow ? fsp.lstat(abs, { bigint: true }) : fsp.stat(abs, { bigint: true }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
