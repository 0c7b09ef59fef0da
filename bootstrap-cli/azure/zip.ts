/**
 * Writes the deployment package as a zip archive with fflate (npm, no dependencies) for the zip
 * structure and node:zlib for deflate and CRC-32 (native: about 3x faster than fflate's deflate on
 * node_modules). Entries keep the order given, a fixed timestamp and their Unix mode, so the same
 * files give the same bytes (and the same package hash, which publishing uses to skip an
 * unchanged package).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';

export interface ZipEntryInput {
  /** Path inside the archive, `/`-separated, no leading slash. */
  name: string;
  data: Buffer;
  /** Unix mode bits to keep (e.g. 0o755 for executables); default 0o644. */
  mode?: number;
}

// 1980-01-01 00:00:00 local time, the first DOS date: a fixed time keeps archives reproducible.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const UNIX = 3;
const REGULAR_FILE = 0o100000;
// Files this small gain nothing from deflate.
const STORE_AT_MOST = 64;

/** Writes `entries` to `file` as a zip archive; returns its size in bytes. */
export async function writeZip(file: string, entries: Iterable<ZipEntryInput>, options: { level?: number } = {}): Promise<number> {
  const level = options.level ?? 6;
  const out = createWriteStream(file);
  let size = 0;
  let failure: Error | undefined;
  out.on('error', (err) => (failure ??= err));
  const pending: Buffer[] = [];
  const zip = new Zip((err, chunk, final) => {
    if (err) failure ??= err;
    else {
      pending.push(Buffer.from(chunk));
      size += chunk.length;
    }
    if (final) pending.push(Buffer.alloc(0));
  });
  const flush = async () => {
    for (const chunk of pending.splice(0)) if (chunk.length > 0 && !out.write(chunk)) await once(out, 'drain');
  };
  try {
    for (const entry of entries) {
      if (entry.name.startsWith('/') || entry.name.split('/').includes('..')) throw new Error(`zip: unsafe entry name "${entry.name}"`);
      // Deflated when that makes it smaller; stored otherwise.
      const deflated = entry.data.length > STORE_AT_MOST ? deflateRawSync(entry.data, { level }) : undefined;
      const useDeflate = deflated !== undefined && deflated.length < entry.data.length;
      const member: ZipInputFile = {
        filename: entry.name,
        size: entry.data.length,
        crc: crc32(entry.data),
        compression: useDeflate ? 8 : 0,
        mtime: FIXED_MTIME,
        os: UNIX,
        attrs: (((entry.mode ?? 0o644) | REGULAR_FILE) << 16) >>> 0,
      };
      zip.add(member);
      member.ondata!(null, (useDeflate ? deflated : entry.data) as Uint8Array<ArrayBuffer>, true);
      if (failure) throw failure;
      await flush();
    }
    zip.end();
    if (failure) throw failure;
    await flush();
    out.end();
    await once(out, 'finish');
    return size;
  } catch (e) {
    // No partial archive is left behind.
    const closed = once(out, 'close').catch(() => undefined);
    out.destroy();
    await closed;
    await rm(file, { force: true });
    throw e;
  }
}
