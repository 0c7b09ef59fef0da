/**
 * Reads a zip archive (what a zip deploy uploads): central directory, stored and deflated entries,
 * CRC-32 checked. Enough for packages made by common zip tools and bootstrap-cli's writer; no zip64,
 * no encryption. Refuses entry names that would escape the target folder.
 */
import { crc32 } from '../../../bootstrap-cli/azure/zip.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

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

export function readZip(zip: Buffer): ZipEntry[] {
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipFormatError('no end of central directory record');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== 0x02014b50) throw new ZipFormatError(`central directory entry ${i} is corrupt`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const madeBy = zip.readUInt16LE(at + 4) >> 8;
    const external = zip.readUInt32LE(at + 38);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;
    if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new ZipFormatError(`local header of "${name}" is corrupt`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressed);
    if (name.endsWith('/')) continue; // directory entry
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else throw new ZipFormatError(`"${name}" uses compression method ${method} (only stored and deflate are supported)`);
    if (data.length !== size) throw new ZipFormatError(`"${name}" has ${data.length} bytes, the directory says ${size}`);
    if (crc32(data) !== crc) throw new ZipFormatError(`"${name}" fails its CRC-32 check`);
    const mode = madeBy === 3 ? (external >>> 16) & 0o777 : 0o644;
    entries.push({ name, data, mode: mode || 0o644 });
  }
  return entries;
}

/** Unpacks into `dir` (which should be empty); returns the relative paths written. */
export async function extractZip(zip: Buffer, dir: string): Promise<string[]> {
  const root = resolve(dir);
  const written: string[] = [];
  for (const entry of readZip(zip)) {
    const target = resolve(join(root, entry.name));
    if (!target.startsWith(root + sep)) throw new ZipFormatError(`entry "${entry.name}" would be written outside the target folder`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, entry.data, { mode: entry.mode });
    written.push(entry.name);
  }
  return written;
}

