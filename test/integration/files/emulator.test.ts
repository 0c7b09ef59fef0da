/**
 * The local File endpoint over the real protocol: @azure/storage-file-share 12 (SharedKey) and the
 * real curl (SAS URLs).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileSASPermissions,
  ShareClient,
  ShareFileClient,
  ShareSASPermissions,
  ShareServiceClient,
} from '@azure/storage-file-share';
import { curlStatus, errorOf, execFileAsync, startFilesFixture, type FilesFixture } from './setup.js';

let fx: FilesFixture;
let share: ShareClient;

beforeAll(async () => {
  fx = await startFilesFixture();
  share = fx.service.getShareClient('emu');
  await share.create();
});
afterAll(async () => fx?.close());


const inAMinute = () => new Date(Date.now() + 60_000);

describe('shares and directories', () => {
  it('creates a share once: a second create is 409 ShareAlreadyExists', async () => {
    const err = await errorOf(share.create());
    expect(err.statusCode).toBe(409);
    expect(err.code).toBe('ShareAlreadyExists');
    expect((await share.createIfNotExists()).succeeded).toBe(false);
    expect(fx.emulator.log.entries().some((e) => e.kind === 'share.create' && e.status === 201)).toBe(true);
  });

  it('operations on a missing share fail with 404 ShareNotFound', async () => {
    const err = await errorOf(fx.service.getShareClient('nope').getDirectoryClient('d').create());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('ShareNotFound');
  });

  it('creates directories as real folders: 409 ResourceAlreadyExists, 404 ParentNotFound', async () => {
    await share.getDirectoryClient('dirs').create();
    await share.getDirectoryClient('dirs/child').create();
    expect((await readFileIsDir(path.join(fx.rootDir, 'emu', 'dirs', 'child')))).toBe(true);
    const dup = await errorOf(share.getDirectoryClient('dirs').create());
    expect([dup.statusCode, dup.code]).toEqual([409, 'ResourceAlreadyExists']);
    const orphan = await errorOf(share.getDirectoryClient('missing/child').create());
    expect([orphan.statusCode, orphan.code]).toEqual([404, 'ParentNotFound']);
  });

  it('lists a directory page by page with maxresults and NextMarker', async () => {
    const dir = share.getDirectoryClient('paged');
    await dir.create();
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    for (const n of names.slice(0, 6)) await dir.getFileClient(`${n}.txt`).uploadData(Buffer.from(n.repeat(3)));
    await dir.getDirectoryClient('g').create();
    fx.emulator.log.reset();
    const pages: string[][] = [];
    for await (const page of dir.listFilesAndDirectories().byPage({ maxPageSize: 3 })) {
      pages.push([...page.segment.directoryItems.map((d) => `${d.name}/`), ...page.segment.fileItems.map((f) => `${f.name}:${f.properties.contentLength}`)]);
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat().sort()).toEqual(['a.txt:3', 'b.txt:3', 'c.txt:3', 'd.txt:3', 'e.txt:3', 'f.txt:3', 'g/']);
    expect(fx.emulator.log.count('dir.list')).toBe(3);
  });

  it('lists each entry\'s ETag, timestamps, attributes and file id when asked, the same as its properties say', async () => {
    const dir = share.getDirectoryClient('detailed');
    await dir.create();
    const file = dir.getFileClient('x.txt');
    await file.uploadData(Buffer.from('xyz'));
    await dir.getDirectoryClient('sub').create();
    type Listed = { kind: string; name: string; fileId?: string; attributes?: string; properties: { etag?: string; lastModified?: Date; lastWriteTime?: Date; contentLength?: number } };
    const items: Listed[] = [];
    for await (const item of dir.listFilesAndDirectories({ includeEtag: true, includeTimestamps: true, includeAttributes: true, includeExtendedInfo: true })) items.push({ ...item, properties: item.properties ?? {} });
    const props = await file.getProperties();
    const listed = items.find((i) => i.name === 'x.txt')!;
    expect(listed.properties.etag).toBe(props.etag);
    expect(listed.properties.lastModified?.toUTCString()).toBe(props.lastModified?.toUTCString());
    expect(listed.properties.lastWriteTime).toBeInstanceOf(Date);
    expect(listed.properties.contentLength).toBe(3);
    expect(listed.attributes).toBe('Archive');
    expect(listed.fileId).toMatch(/^\d+$/);
    expect(items.find((i) => i.name === 'sub')).toMatchObject({ kind: 'directory', attributes: 'Directory', properties: { etag: expect.stringMatching(/^".+"$/) } });
    // Without include, only names and a file's length, as before 2020-04-08.
    const plain: Array<string | undefined> = [];
    for await (const item of dir.listFilesAndDirectories()) plain.push(item.properties?.etag);
    expect(plain).toEqual([undefined, undefined]);
  });

  it('changes a file\'s ETag and Last-Modified when only its properties or metadata are written', async () => {
    const file = share.getDirectoryClient('detailed').getFileClient('props.txt');
    await file.uploadData(Buffer.from('same bytes'));
    const first = await file.getProperties();
    await file.setHttpHeaders({ fileContentType: 'text/plain' });
    const second = await file.getProperties();
    expect(second.etag).not.toBe(first.etag);
    await file.setMetadata({ owner: 'test' });
    const third = await file.getProperties();
    expect(third.etag).not.toBe(second.etag);
    expect(third.contentType).toBe('text/plain');
    expect(third.metadata).toEqual({ owner: 'test' });
  });

  it('refuses a list include it does not know, or one it does not keep (PermissionKey), naming it: 400', async () => {
    const sasUrl = share.generateSasUrl({ permissions: ShareSASPermissions.parse('rl'), expiresOn: inAMinute() });
    const [base, query] = sasUrl.split('?');
    for (const [include, says] of [['Size', 'Size&quot; is not one of Timestamps, Etag, Attributes, PermissionKey'], ['Etag,PermissionKey', 'PermissionKey is not supported']] as const) {
      const res = await fetch(`${base}/detailed?restype=directory&comp=list&include=${include}&${query}`, { headers: { 'x-ms-version': '2026-04-06' } });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-ms-error-code')).toBe('InvalidQueryParameterValue');
      expect(await res.text()).toContain(says);
    }
  });

  it('deletes files and empty directories; a non-empty directory is 409 DirectoryNotEmpty', async () => {
    const dir = share.getDirectoryClient('todelete');
    await dir.create();
    const file = dir.getFileClient('x');
    await file.uploadData(Buffer.from('x'));
    const notEmpty = await errorOf(dir.delete());
    expect([notEmpty.statusCode, notEmpty.code]).toEqual([409, 'DirectoryNotEmpty']);
    await file.delete();
    const gone = await errorOf(file.getProperties());
    expect([gone.statusCode, gone.code]).toEqual([404, 'ResourceNotFound']);
    await dir.delete();
    expect(await dir.exists()).toBe(false);
  });
});

describe('files', () => {
  it('stores the bytes on the real filesystem and reports properties with the Content-MD5 sent at create', async () => {
    const body = Buffer.from('hello from the share\n');
    const md5 = new Uint8Array(randomBytes(16));
    const file = share.rootDirectoryClient.getFileClient('hello.txt');
    await file.uploadData(body, { fileHttpHeaders: { fileContentMD5: md5 } });
    expect(await readFile(path.join(fx.rootDir, 'emu', 'hello.txt'))).toEqual(body);
    const props = await file.getProperties();
    expect(props.contentLength).toBe(body.length);
    expect(Buffer.from(props.contentMD5!)).toEqual(Buffer.from(md5));
    expect(props.etag).toMatch(/^"0x[0-9A-F]+F"$/);
    expect(props.lastModified).toBeInstanceOf(Date);
    expect((await file.downloadToBuffer()).toString()).toBe(body.toString());
  });

  it('downloads a file larger than 4 MiB correctly through ranged GETs', async () => {
    const body = randomBytes(9 * 1024 * 1024 + 123);
    const file = share.rootDirectoryClient.getFileClient('big.bin');
    await file.uploadData(body);
    expect(fx.emulator.log.entries().filter((e) => e.kind === 'file.putRange' && e.path === '/emu/big.bin')).toHaveLength(3);
    fx.emulator.log.reset();
    const back = await file.downloadToBuffer();
    expect(back.equals(body)).toBe(true);
    const ranged = fx.emulator.log.entries().filter((e) => e.kind === 'file.download' && e.status === 206);
    expect(ranged.length).toBeGreaterThanOrEqual(3);
    expect(ranged.map((e) => e.range)).toContain(`${8 * 1024 * 1024}-${body.length - 1}`);
  });

  it('answers a ranged GET with 206 and content-range, and a range beyond the end with 416', async () => {
    const file = share.rootDirectoryClient.getFileClient('hello.txt');
    const part = await file.download(6, 4);
    expect(part._response.status).toBe(206);
    expect(part.contentRange).toBe('bytes 6-9/21');
    expect(await streamText(part.readableStreamBody!)).toBe('from');
    const err = await errorOf(file.download(100, 5));
    expect([err.statusCode, err.code]).toEqual([416, 'InvalidRange']);
  });
});

describe('SharedKey authentication', () => {
  it('refuses a request signed with another key: 403 AuthenticationFailed', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const forged = ShareServiceClient.fromConnectionString(fx.emulator.connectionString.replace(fx.emulator.accountKey, wrongKey));
    const err = await errorOf(forged.getShareClient('emu').rootDirectoryClient.getFileClient('hello.txt').getProperties());
    expect([err.statusCode, err.code]).toEqual([403, 'AuthenticationFailed']);
  });

  it('refuses a request with no credentials: 401', async () => {
    expect((await curlStatus(`${fx.emulator.endpoint}/emu/hello.txt`)).status).toBe(401);
  });

  it('answers errors with an XML body and the x-ms-error-code header', async () => {
    const res = await fetch(`${fx.emulator.endpoint}/emu/hello.txt`);
    expect(res.headers.get('x-ms-error-code')).toBe('NoAuthenticationInformation');
    expect(await res.text()).toMatch(/<Error><Code>NoAuthenticationInformation<\/Code><Message>.+<\/Message><\/Error>/);
  });
});

describe('SAS URLs', () => {
  const fileName = 'sas target.txt';
  const body = 'read me over SAS\n';
  let file: ShareFileClient;
  beforeAll(async () => {
    file = share.rootDirectoryClient.getFileClient(fileName);
    await file.uploadData(Buffer.from(body));
  });

  it('a read-only file SAS URL fetched with the real curl gives the file', async () => {
    const url = file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: inAMinute() });
    const { stdout } = await execFileAsync('/usr/bin/curl', ['-fsS', '--url', url]);
    expect(stdout).toBe(body);
    const last = fx.emulator.log.entries().at(-1)!;
    expect(last).toMatchObject({ kind: 'file.download', auth: 'sas', status: 200 });
    expect(JSON.stringify(fx.emulator.log.entries())).not.toContain('sig=');
  });

  it('a tampered signature is 403 AuthenticationFailed', async () => {
    const url = new URL(file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: inAMinute() }));
    const sig = Buffer.from(url.searchParams.get('sig')!, 'base64');
    sig[0] = sig[0]! ^ 1;
    url.searchParams.set('sig', sig.toString('base64'));
    expect(await curlStatus(url.toString())).toEqual({ status: 403, errorCode: 'AuthenticationFailed' });
  });

  it('changing a signed field (sp r -> rw, or another file) breaks the signature: 403', async () => {
    const url = new URL(file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: inAMinute() }));
    const widened = new URL(url);
    widened.searchParams.set('sp', 'rw');
    expect((await curlStatus(widened.toString())).status).toBe(403);
    const other = new URL(url);
    other.pathname = other.pathname.replace(encodeURIComponent(fileName), 'hello.txt');
    expect(await curlStatus(other.toString())).toEqual({ status: 403, errorCode: 'AuthenticationFailed' });
  });

  it('an expired SAS is 403 AuthenticationFailed', async () => {
    const url = file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: new Date(Date.now() - 1000) });
    expect(await curlStatus(url)).toEqual({ status: 403, errorCode: 'AuthenticationFailed' });
  });

  it('a SAS that starts in the future is refused', async () => {
    const url = file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), startsOn: new Date(Date.now() + 600_000), expiresOn: new Date(Date.now() + 1_200_000) });
    expect((await curlStatus(url)).status).toBe(403);
  });

  it('a write with a read-only SAS is 403; the same write with a write SAS succeeds', async () => {
    const readOnly = new ShareFileClient(file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: inAMinute() }));
    const denied = await errorOf(readOnly.uploadRange(Buffer.from('XXXX'), 0, 4));
    expect([denied.statusCode, denied.code]).toEqual([403, 'AuthorizationPermissionMismatch']);
    const deniedCreate = await errorOf(readOnly.create(3));
    expect(deniedCreate.statusCode).toBe(403);
    const deniedDelete = await errorOf(readOnly.delete());
    expect(deniedDelete.statusCode).toBe(403);
    expect((await file.downloadToBuffer()).toString()).toBe(body);

    const writable = new ShareFileClient(file.generateSasUrl({ permissions: FileSASPermissions.parse('rw'), expiresOn: inAMinute() }));
    await writable.uploadRange(Buffer.from('READ'), 0, 4);
    expect((await file.downloadToBuffer()).toString()).toBe('READ me over SAS\n');
  });

  it('a file SAS does not open other operations (curl PUT with it is 403)', async () => {
    const url = file.generateSasUrl({ permissions: FileSASPermissions.parse('r'), expiresOn: inAMinute() });
    const res = await curlStatus(url, ['-X', 'PUT', '-H', 'x-ms-type: file', '-H', 'x-ms-content-length: 1']);
    expect(res.status).toBe(403);
  });

  it('a share SAS with r+l lists and reads anywhere in the share but cannot write', async () => {
    const sasUrl = share.generateSasUrl({ permissions: ShareSASPermissions.parse('rl'), expiresOn: inAMinute() });
    const viaSas = new ShareClient(sasUrl);
    const names: string[] = [];
    for await (const item of viaSas.rootDirectoryClient.listFilesAndDirectories()) names.push(item.name);
    expect(names).toContain(fileName);
    expect((await viaSas.rootDirectoryClient.getFileClient('hello.txt').downloadToBuffer()).toString()).toBe('hello from the share\n');
    const err = await errorOf(viaSas.getDirectoryClient('made-by-sas').create());
    expect([err.statusCode, err.code]).toEqual([403, 'AuthorizationPermissionMismatch']);
  });
});

async function readFileIsDir(p: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return (await stat(p)).isDirectory();
}

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString();
}
