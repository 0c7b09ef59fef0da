/**
 * The local File endpoint as the HTTPS endpoint of an account with secure transfer required (the
 * default of a new storage account, and what infra/lcm.json sets): the real SDK and curl work over
 * TLS, and plain http on the same port gets Azure's answer, 400 AccountRequiresHttps.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSASPermissions, ShareServiceClient } from '@azure/storage-file-share';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { CodeShare, fetchScript, shareServiceTrusting } from '../../../functions/cloud/code-share.js';
import { startFileShareEmulator, type FileShareEmulator } from '../../../local/azure/files/index.js';
import { generateLocalTls, type LocalTls } from '../../../local/azure/tls.js';
import { curlStatus } from './setup.js';

let tmp: string;
let tls: LocalTls;
let files: FileShareEmulator;
let caFile: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lcm-files-https-'));
  tls = generateLocalTls();
  caFile = path.join(tmp, 'ca.pem');
  await writeFile(caFile, tls.cert);
  files = await startFileShareEmulator({ rootDir: path.join(tmp, 'root'), accountName: 'lcmsecure', tls });
});
afterAll(async () => {
  await files?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function errorOf(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; message: string; details?: { errorCode?: string } };
    return { statusCode: e.statusCode, code: e.code ?? e.details?.errorCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

describe('an HTTPS File endpoint with secure transfer required', () => {
  it('serves the real SDK over TLS (trusting the local CA) and curl with a SAS URL', async () => {
    expect(files.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/lcmsecure$/);
    expect(files.connectionString).toContain('DefaultEndpointsProtocol=https;');
    const code = CodeShare.fromConnectionString(files.connectionString, 'code', { caCert: tls.cert });
    await code.ensureShare();
    const src = path.join(tmp, 'src');
    await rm(src, { recursive: true, force: true });
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'app.js'), 'console.log(1)\n');
    expect((await code.uploadDirectory(src, 'svc')).uploaded).toEqual(['app.js']);

    const service = shareServiceTrusting(files.connectionString, tls.cert);
    const file = service.getShareClient('code').getDirectoryClient('svc').getFileClient('app.js');
    expect((await file.downloadToBuffer()).toString()).toBe('console.log(1)\n');
    const sas = await file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 60_000) });
    expect(await curlStatus(sas, ['--cacert', caFile])).toEqual({ status: 200, errorCode: undefined });
  });

  it('the VM fetch script trusts the CA it is given (curl --cacert), leaves no CA file behind, and fails without it', async () => {
    const code = CodeShare.fromConnectionString(files.connectionString, 'code', { caCert: tls.cert });
    const urls = await code.readOnlySasUrls('svc', { expiresInMs: 60_000 });
    const work = path.join(tmp, 'fetch');
    await mkdir(work, { recursive: true });
    const run = (script: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = execFile('bash', ['-s'], { cwd: work, env: { PATH: process.env['PATH'], TMPDIR: work } }, (err, _out, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
        child.stdin!.end(script);
      });
    expect(await run(fetchScript(urls, path.join(work, 'ok'), { caCert: code.caCert }))).toEqual({ code: 0, stderr: '' });
    expect(await readFile(path.join(work, 'ok', 'app.js'), 'utf8')).toBe('console.log(1)\n');
    expect((await readdir(work)).sort()).toEqual(['ok']); // the temporary CA file is gone
    const untrusted = await run(fetchScript(urls, path.join(work, 'no-ca')));
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate/i);
  });

  it('answers plain http on the same port with 400 AccountRequiresHttps, to the SDK and to curl, and changes nothing', async () => {
    const httpConnection = files.connectionString.replace('DefaultEndpointsProtocol=https', 'DefaultEndpointsProtocol=http').replace('FileEndpoint=https://', 'FileEndpoint=http://');
    const overHttp = ShareServiceClient.fromConnectionString(httpConnection, { retryOptions: { maxTries: 1 } });
    const refused = await errorOf(overHttp.getShareClient('plain').create());
    expect(refused).toMatchObject({ statusCode: 400, code: 'AccountRequiresHttps' });
    expect((await shareServiceTrusting(files.connectionString, tls.cert).getShareClient('plain').exists())).toBe(false);
    const service = shareServiceTrusting(files.connectionString, tls.cert);
    const sas = await service.getShareClient('code').getDirectoryClient('svc').getFileClient('app.js').generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 60_000) });
    expect(await curlStatus(sas.replace(/^https:/, 'http:'))).toEqual({ status: 400, errorCode: 'AccountRequiresHttps' });
    expect(files.log.entries().filter((e) => e.kind === 'http.refused').map((e) => e.errorCode)).toEqual(['AccountRequiresHttps', 'AccountRequiresHttps']);
  });

  it('is real TLS: a client that does not trust the local CA is refused the connection', async () => {
    const untrusting = ShareServiceClient.fromConnectionString(files.connectionString, { retryOptions: { maxTries: 1 } });
    const err = await errorOf(untrusting.getShareClient('code').exists());
    expect(err.message).toMatch(/self[- ]signed|certificate/i);
  });
});

describe('secure transfer not required', () => {
  it('serves http on the TLS port as well', async () => {
    const open = await startFileShareEmulator({ rootDir: path.join(tmp, 'open'), accountName: 'lcmopen', tls, secureTransferRequired: false });
    try {
      const httpConnection = open.connectionString.replace('DefaultEndpointsProtocol=https', 'DefaultEndpointsProtocol=http').replace('FileEndpoint=https://', 'FileEndpoint=http://');
      expect((await ShareServiceClient.fromConnectionString(httpConnection).getShareClient('plain').createIfNotExists()).succeeded).toBe(true);
    } finally {
      await open.stop();
    }
  });
});
