/**
 * A small, deterministic zip writer (no npm dependency is available for this): stored or deflated
 * entries (node:zlib deflateRaw), CRC-32, local headers, central directory. Entries are written in
 * the order given with a fixed timestamp, so the same files give the same bytes (and the same
 * package hash, which publishing uses to skip an unchanged package). No zip64: at most 65535
 * entries and 4 GiB, checked.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { deflateRawSync } from 'node:zlib';

export interface ZipEntryInput {
  /** Path inside the archive, `/`-separated, no leading slash. */
  name: string;
  data: Buffer;
  /** Unix mode bits to keep (e.g. 0o755 for executables); default 0o644. */
  mode?: number;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// 1980-01-01 00:00:00 in DOS format: a fixed time keeps archives reproducible.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX_32 = 0xffffffff;

/** Writes `entries` to `file` as a zip archive; returns its size in bytes. */
export async function writeZip(file: string, entries: Iterable<ZipEntryInput>, options: { level?: number } = {}): Promise<number> {
  const out = createWriteStream(file);
  const central: Buffer[] = [];
  let offset = 0;
  let count = 0;
  const write = async (chunk: Buffer) => {
    offset += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    for (const entry of entries) {
      const name = Buffer.from(entry.name, 'utf8');
      if (entry.name.startsWith('/') || entry.name.split('/').includes('..')) throw new Error(`zip: unsafe entry name "${entry.name}"`);
      const crc = crc32(entry.data);
      // Small or incompressible files are stored: deflate would only make them larger.
      const deflated = entry.data.length > 64 ? deflateRawSync(entry.data, { level: options.level ?? 6 }) : undefined;
      const useDeflate = deflated !== undefined && deflated.length < entry.data.length;
      const body = useDeflate ? deflated : entry.data;
      if (entry.data.length > MAX_32 || offset > MAX_32) throw new Error('zip: archive larger than 4 GiB (zip64 is not supported)');
      const method = useDeflate ? 8 : 0;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4); // version needed
      local.writeUInt16LE(0x0800, 6); // UTF-8 names
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(entry.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const header = Buffer.alloc(46);
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so external attributes carry the mode
      header.writeUInt16LE(20, 6);
      header.writeUInt16LE(0x0800, 8);
      header.writeUInt16LE(method, 10);
      header.writeUInt16LE(DOS_TIME, 12);
      header.writeUInt16LE(DOS_DATE, 14);
      header.writeUInt32LE(crc, 16);
      header.writeUInt32LE(body.length, 20);
      header.writeUInt32LE(entry.data.length, 24);
      header.writeUInt16LE(name.length, 28);
      header.writeUInt32LE((((entry.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38);
      header.writeUInt32LE(offset, 42);
      central.push(header, name);
      await write(local);
      await write(name);
      await write(body);
      count++;
      if (count > 0xffff) throw new Error('zip: more than 65535 entries (zip64 is not supported)');
    }
    const cd = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(count, 8);
    end.writeUInt16LE(count, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(offset, 16);
    await write(cd);
    await write(end);
    out.end();
    await once(out, 'finish');
    return offset;
  } catch (e) {
    out.destroy();
    throw e;
  }
}
