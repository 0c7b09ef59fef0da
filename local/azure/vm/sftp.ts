/**
 * A minimal SFTP server over the real filesystem: what node-ssh's putFile/putDirectory/getFile and
 * mkdir need (REALPATH, STAT, OPEN/READ/WRITE/CLOSE, MKDIR, READDIR, SETSTAT, REMOVE, RENAME).
 * Relative paths resolve against the VM's home, as with OpenSSH; paths outside the sandbox are
 * refused. A missing file answers exactly `No such file` (node-ssh then creates the parent).
 */
import * as fs from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, SFTPWrapper } from 'ssh2';

const { STATUS_CODE } = ssh2.utils.sftp;

interface OpenFile { kind: 'file'; fd: number }
interface OpenDir { kind: 'dir'; path: string; done: boolean }

function attrsOf(st: fs.Stats): Attributes {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

function longname(name: string, st: fs.Stats): string {
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-';
  const bits = 'rwxrwxrwx'.split('').map((c, i) => (st.mode & (1 << (8 - i)) ? c : '-')).join('');
  return `${type}${bits} 1 ${st.uid} ${st.gid} ${st.size} ${st.mtime.toISOString().slice(0, 10)} ${name}`;
}

export function serveSftp(sftp: SFTPWrapper, sandbox: string, home: string): void {
  const handles = new Map<number, OpenFile | OpenDir>();
  let nextHandle = 1;

  const newHandle = (h: OpenFile | OpenDir): Buffer => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  };
  const lookup = (buf: Buffer): OpenFile | OpenDir | undefined =>
    buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined;

  /** Resolves a client path; undefined when it leaves the sandbox. */
  const local = (p: string): string | undefined => {
    const abs = isAbsolute(p) ? resolve(p) : resolve(home, p);
    const rel = relative(sandbox, abs);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)) ? abs : undefined;
  };

  const fail = (reqid: number, err: unknown): void => {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    else if (code === 'EACCES' || code === 'EPERM') sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    else sftp.status(reqid, STATUS_CODE.FAILURE, code ? `Failure (${code})` : 'Failure');
  };
  const outside = (reqid: number): void =>
    sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied (outside the emulated VM sandbox)');

  /** Runs `fn` on a confined path, mapping filesystem errors to SFTP statuses. */
  const withPath = (reqid: number, p: string, fn: (abs: string) => void): void => {
    const abs = local(p);
    if (!abs) return outside(reqid);
    try {
      fn(abs);
    } catch (err) {
      fail(reqid, err);
    }
  };

  const applyAttrs = (abs: string | number, attrs: Attributes): void => {
    if (attrs && typeof attrs.mode === 'number') {
      if (typeof abs === 'number') fs.fchmodSync(abs, attrs.mode & 0o7777);
      else fs.chmodSync(abs, attrs.mode & 0o7777);
    }
  };

  sftp.on('REALPATH', (reqid, p) =>
    withPath(reqid, p, (abs) => sftp.name(reqid, [{ filename: abs, longname: abs, attrs: {} as Attributes }])),
  );
  const statHandler = (follow: boolean) => (reqid: number, p: string) =>
    withPath(reqid, p, (abs) => sftp.attrs(reqid, attrsOf(follow ? fs.statSync(abs) : fs.lstatSync(abs))));
  sftp.on('STAT', statHandler(true));
  sftp.on('LSTAT', statHandler(false));

  sftp.on('OPEN', (reqid, p, flags, attrs) =>
    withPath(reqid, p, (abs) => {
      const mode = ssh2.utils.sftp.flagsToString(flags);
      if (!mode) return sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, 'Unsupported open flags');
      const fd = fs.openSync(abs, mode, typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : 0o644);
      sftp.handle(reqid, newHandle({ kind: 'file', fd }));
    }),
  );
  sftp.on('READ', (reqid, handle, offset, length) => {
    const h = lookup(handle);
    if (!h || h.kind !== 'file') return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    try {
      const buf = Buffer.alloc(Math.min(length, 256 * 1024));
      const n = fs.readSync(h.fd, buf, 0, buf.length, offset);
      if (n === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, buf.subarray(0, n));
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const h = lookup(handle);
    if (!h || h.kind !== 'file') return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    try {
      fs.writeSync(h.fd, data, 0, data.length, offset);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('FSTAT', (reqid, handle) => {
    const h = lookup(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    try {
      sftp.attrs(reqid, attrsOf(h.kind === 'file' ? fs.fstatSync(h.fd) : fs.statSync(h.path)));
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('FSETSTAT', (reqid, handle, attrs) => {
    const h = lookup(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    try {
      applyAttrs(h.kind === 'file' ? h.fd : h.path, attrs);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('SETSTAT', (reqid, p, attrs) =>
    withPath(reqid, p, (abs) => {
      applyAttrs(abs, attrs);
      sftp.status(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('CLOSE', (reqid, handle) => {
    const h = lookup(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    handles.delete(handle.readUInt32BE(0));
    try {
      if (h.kind === 'file') fs.closeSync(h.fd);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('OPENDIR', (reqid, p) =>
    withPath(reqid, p, (abs) => {
      if (!fs.statSync(abs).isDirectory()) return sftp.status(reqid, STATUS_CODE.FAILURE, 'Not a directory');
      sftp.handle(reqid, newHandle({ kind: 'dir', path: abs, done: false }));
    }),
  );
  sftp.on('READDIR', (reqid, handle) => {
    const h = lookup(handle);
    if (!h || h.kind !== 'dir') return sftp.status(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    if (h.done) return sftp.status(reqid, STATUS_CODE.EOF);
    h.done = true;
    try {
      const entries = fs.readdirSync(h.path).flatMap((name) => {
        try {
          const st = fs.lstatSync(resolve(h.path, name));
          return [{ filename: name, longname: longname(name, st), attrs: attrsOf(st) }];
        } catch {
          return [];
        }
      });
      if (entries.length === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.name(reqid, entries);
    } catch (err) {
      fail(reqid, err);
    }
  });
  const simple = (op: (abs: string) => void) => (reqid: number, p: string) =>
    withPath(reqid, p, (abs) => {
      op(abs);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  sftp.on('MKDIR', (reqid, p, attrs) =>
    simple((abs) => fs.mkdirSync(abs, { mode: typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : 0o755 }))(reqid, p),
  );
  sftp.on('RMDIR', simple((abs) => fs.rmdirSync(abs)));
  sftp.on('REMOVE', simple((abs) => fs.unlinkSync(abs)));
  sftp.on('RENAME', (reqid, from, to) => {
    const dest = local(to);
    if (!dest) return outside(reqid);
    withPath(reqid, from, (abs) => {
      fs.renameSync(abs, dest);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  });
  sftp.on('end', () => {
    for (const h of handles.values()) if (h.kind === 'file') try { fs.closeSync(h.fd); } catch { /* closed */ }
    handles.clear();
  });
}
