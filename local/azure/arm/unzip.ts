/**
 * Reads a zip archive (what a zip deploy uploads) with yauzl (npm): its central directory, stored and
 * deflated entries, sizes and CRC-32 checked (node:zlib's crc32), Unix modes kept. Refuses entry
 * names that would escape the target folder, as Kudu does.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

export class ZipFormatError extends Error {
  constructor(message: string) {
    super(`invalid zip package: ${message}`);
    this.name = 'ZipFormatError';
  }
}

export interface ZipEntry {
  name: string;
  data: Buffer;
  mode: number;
}

const UNIX = 3;

export async function readZip(zip: Buffer): Promise<ZipEntry[]> {
  const archive = await new Promise<yauzl.ZipFile>((resolveOpen, reject) =>
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true }, (err, file) => (err ? reject(new ZipFormatError(err.message)) : resolveOpen(file))),
  );
  const entries: ZipEntry[] = [];
  try {
    await new Promise<void>((done, fail) => {
      const failWith = (err: unknown) => fail(err instanceof ZipFormatError ? err : new ZipFormatError(err instanceof Error ? err.message : String(err)));
      archive.on('error', failWith);
      archive.on('end', () => done());
      archive.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) {
          archive.readEntry(); // directory entry
          return;
        }
        if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
          failWith(new ZipFormatError(`"${entry.fileName}" uses compression method ${entry.compressionMethod} (only stored and deflate are supported)`));
          return;
        }
        archive.openReadStream(entry, (err, stream) => {
          if (err) return failWith(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', failWith);
          stream.on('end', () => {
            const data = Buffer.concat(chunks);
            if (crc32(data) !== entry.crc32) return failWith(new ZipFormatError(`"${entry.fileName}" fails its CRC-32 check`));
            const mode = entry.versionMadeBy >> 8 === UNIX ? (entry.externalFileAttributes >>> 16) & 0o777 : 0o644;
            entries.push({ name: entry.fileName, data, mode: mode || 0o644 });
            archive.readEntry();
          });
        });
      });
      archive.readEntry();
    });
  } finally {
    if (archive.isOpen) archive.close();
  }
  return entries;
}

/** Unpacks into `dir` (which should be empty); returns the relative paths written. */
export async function extractZip(zip: Buffer, dir: string): Promise<string[]> {
  const root = resolve(dir);
  const written: string[] = [];
  for (const entry of await readZip(zip)) {
    const target = resolve(join(root, entry.name));
    if (!target.startsWith(root + sep)) throw new ZipFormatError(`entry "${entry.name}" would be written outside the target folder`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, entry.data, { mode: entry.mode });
    written.push(entry.name);
  }
  return written;
}
