/** A File Share emulator on a fresh temp folder, with an SDK client, for one test file. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ShareServiceClient } from '@azure/storage-file-share';
import { startFileShareEmulator, type FileShareEmulator } from '../../../local/azure/files/index.js';

export const execFileAsync = promisify(execFile);

export interface FilesFixture {
  emulator: FileShareEmulator;
  service: ShareServiceClient;
  rootDir: string;
  tmp: string;
  close(): Promise<void>;
}

export async function startFilesFixture(accountName = 'lcmcode'): Promise<FilesFixture> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'lcm-files-'));
  const rootDir = path.join(tmp, 'root');
  const emulator = await startFileShareEmulator({ rootDir, accountName });
  const service = ShareServiceClient.fromConnectionString(emulator.connectionString);
  return {
    emulator,
    service,
    rootDir,
    tmp,
    close: async () => {
      await emulator.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** HTTP status of a GET with the real curl (no retries), and the x-ms-error-code header. */
export async function curlStatus(url: string, extra: string[] = []): Promise<{ status: number; errorCode?: string }> {
  const { stdout } = await execFileAsync('/usr/bin/curl', ['-sS', '-o', '/dev/null', '-D', '-', '-w', '\n%{http_code}', ...extra, '--url', url]);
  const lines = stdout.trim().split(/\r?\n/);
  const status = Number(lines[lines.length - 1]);
  const code = lines.find((l) => l.toLowerCase().startsWith('x-ms-error-code:'));
  return { status, errorCode: code?.split(':')[1]?.trim() };
}

/** The RestError's status and service error code (HEAD errors carry the code in details only). */
export async function errorOf(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    return { statusCode: e.statusCode, code: e.code ?? e.details?.errorCode };
  }
  throw new Error('expected the call to fail');
}
