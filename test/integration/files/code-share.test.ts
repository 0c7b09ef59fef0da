/** The code-share adapter with the real SDK client against the local File endpoint. */
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeShare } from '../../../functions/cloud/code-share.js';
import { startFilesFixture, type FilesFixture } from './setup.js';

const AUTH_SERVICE = new URL('../../../examples/iot-platform/services/authentication', import.meta.url).pathname;

let fx: FilesFixture;
let code: CodeShare;

beforeAll(async () => {
  fx = await startFilesFixture();
  code = new CodeShare(fx.service, 'service-code');
  await code.ensureShare();
});
afterAll(async () => fx?.close());

/** A private copy of a folder to edit. */
async function copyOf(src: string, name: string): Promise<string> {
  const dest = path.join(fx.tmp, 'work', name);
  await rm(dest, { recursive: true, force: true });
  await mkdir(path.dirname(dest), { recursive: true });
  await cp(src, dest, { recursive: true });
  return dest;
}

async function shareFiles(sharePath: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const share = fx.service.getShareClient('service-code');
  const walk = async (dir: string): Promise<void> => {
    for await (const item of share.getDirectoryClient(dir).listFilesAndDirectories()) {
      const rel = `${dir}/${item.name}`;
      if (item.kind === 'directory') await walk(rel);
      else out.set(rel.slice(sharePath.length + 1), await share.rootDirectoryClient.getFileClient(rel).downloadToBuffer());
    }
  };
  await walk(sharePath);
  return out;
}

describe('CodeShare', () => {
  it('ensureShare is idempotent', async () => {
    await code.ensureShare();
    expect(await fx.service.getShareClient('service-code').exists()).toBe(true);
  });

  it('uploads the authentication service; listing and downloading give the local files', async () => {
    const result = await code.uploadDirectory(AUTH_SERVICE, 'authentication');
    const local = (await readdir(AUTH_SERVICE)).sort();
    expect(result).toEqual({ uploaded: local, unchanged: [], removed: [] });
    const remote = await shareFiles('authentication');
    expect([...remote.keys()].sort()).toEqual(local);
    for (const name of local) expect(remote.get(name)!.equals(await readFile(path.join(AUTH_SERVICE, name)))).toBe(true);
    // The content MD5 is a property of each uploaded file.
    const props = await fx.service.getShareClient('service-code').rootDirectoryClient.getFileClient('authentication/server.js').getProperties();
    expect(Buffer.from(props.contentMD5!).toString('hex')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a second upload of the same folder uploads nothing', async () => {
    fx.emulator.log.reset();
    const again = await code.uploadDirectory(AUTH_SERVICE, 'authentication');
    expect(again.uploaded).toEqual([]);
    expect(again.removed).toEqual([]);
    expect(again.unchanged).toEqual((await readdir(AUTH_SERVICE)).sort());
    expect(fx.emulator.log.count('file.create')).toBe(0);
    expect(fx.emulator.log.count('file.putRange')).toBe(0);
  });

  it('the version changes with content and names, and not with location', async () => {
    const dir = await copyOf(AUTH_SERVICE, 'auth-v');
    await code.uploadDirectory(dir, 'versions/a');
    const v1 = await code.codeVersion('versions/a');
    expect(v1).toMatch(/^[0-9a-f]{16}$/);
    expect(await code.codeVersion('authentication')).toBe(v1); // same content, other folder

    await writeFile(path.join(dir, 'server.js'), (await readFile(path.join(dir, 'server.js'), 'utf8')) + '\n// changed\n');
    const changed = await code.uploadDirectory(dir, 'versions/a');
    expect(changed.uploaded).toEqual(['server.js']);
    const v2 = await code.codeVersion('versions/a');
    expect(v2).not.toBe(v1);

    await rename(path.join(dir, 'server.js'), path.join(dir, 'main.js'));
    const renamed = await code.uploadDirectory(dir, 'versions/a');
    expect(renamed).toMatchObject({ uploaded: ['main.js'], removed: ['server.js'] });
    const v3 = await code.codeVersion('versions/a');
    expect(v3).not.toBe(v2);
    expect([...(await shareFiles('versions/a')).keys()].sort()).toEqual(['Dockerfile', 'main.js', 'package.json']);

    // Putting the same content elsewhere gives the same version again.
    await code.uploadDirectory(dir, 'elsewhere/deeper/copy');
    expect(await code.codeVersion('elsewhere/deeper/copy')).toBe(v3);
  });

  it('mirrors nested folders, removes what is gone locally and handles a file that became a folder', async () => {
    const dir = path.join(fx.tmp, 'work', 'nested');
    await mkdir(path.join(dir, 'lib', 'util'), { recursive: true });
    await mkdir(path.join(dir, 'old'), { recursive: true });
    await writeFile(path.join(dir, 'lib', 'util', 'a.js'), 'a');
    await writeFile(path.join(dir, 'old', 'b.js'), 'b');
    await writeFile(path.join(dir, 'config'), 'file first');
    await writeFile(path.join(dir, 'empty'), '');
    const first = await code.uploadDirectory(dir, 'nested');
    expect(first.uploaded).toEqual(['config', 'empty', 'lib/util/a.js', 'old/b.js']);

    await rm(path.join(dir, 'old'), { recursive: true });
    await rm(path.join(dir, 'config'));
    await mkdir(path.join(dir, 'config'));
    await writeFile(path.join(dir, 'config', 'c.json'), '{}');
    const second = await code.uploadDirectory(dir, 'nested');
    expect(second).toEqual({ uploaded: ['config/c.json'], unchanged: ['empty', 'lib/util/a.js'], removed: ['config', 'old/', 'old/b.js'] });
    const remote = await shareFiles('nested');
    expect([...remote.keys()].sort()).toEqual(['config/c.json', 'empty', 'lib/util/a.js']);
    expect(remote.get('empty')!.length).toBe(0);
  });

  it('codeVersion reads listing and properties only: no download when MD5s are present', async () => {
    await code.uploadDirectory(AUTH_SERVICE, 'fresh/auth');
    fx.emulator.log.reset();
    const first = await code.codeVersion('fresh/auth');
    expect(fx.emulator.log.count('file.download')).toBe(0);
    expect(fx.emulator.log.count('file.properties')).toBe((await readdir(AUTH_SERVICE)).length);
    expect(fx.emulator.log.count('dir.list')).toBeGreaterThan(0);
    // Again (a re-boot): the listing's ETags say nothing changed, so no file's properties are read.
    fx.emulator.log.reset();
    expect(await code.codeVersion('fresh/auth')).toBe(first);
    expect(fx.emulator.log.count('file.properties')).toBe(0);
    expect(fx.emulator.log.count('file.download')).toBe(0);
  });

  it('codeVersion reads again a file written since, even with the same size, or whose Content-MD5 alone changed', async () => {
    const dir = await copyOf(AUTH_SERVICE, 'auth-etag');
    await code.uploadDirectory(dir, 'etag/auth');
    const v1 = await code.codeVersion('etag/auth');
    const file = fx.service.getShareClient('service-code').rootDirectoryClient.getFileClient('etag/auth/server.js');
    const before = await file.getProperties();
    // The same number of bytes, other content (another tool's upload: its own Content-MD5).
    const content = await file.downloadToBuffer();
    const flipped = Buffer.from(content);
    flipped[0] = flipped[0] === 0x2f ? 0x20 : 0x2f;
    await file.uploadData(flipped, { fileHttpHeaders: { fileContentMD5: createHash('md5').update(flipped).digest() } });
    const written = await file.getProperties();
    fx.emulator.log.reset();
    const v2 = await code.codeVersion('etag/auth');
    expect(v2).not.toBe(v1);
    expect(fx.emulator.log.entries().filter((e) => e.kind === 'file.properties').map((e) => e.path)).toEqual(['/service-code/etag/auth/server.js']);
    // Only the property (content untouched): the service gives the file a new ETag, so it is read again.
    await file.setHttpHeaders({ fileContentMD5: before.contentMD5 });
    expect((await file.getProperties()).etag).not.toBe(written.etag);
    const v3 = await code.codeVersion('etag/auth');
    expect(v3).not.toBe(v2);
  });

  it('codeVersion falls back to hashing the content of a file without Content-MD5', async () => {
    const share = fx.service.getShareClient('service-code');
    await share.getDirectoryClient('no-md5').create();
    for (const name of await readdir(AUTH_SERVICE)) {
      await share.rootDirectoryClient.getFileClient(`no-md5/${name}`).uploadData(await readFile(path.join(AUTH_SERVICE, name)));
    }
    fx.emulator.log.reset();
    expect(await code.codeVersion('no-md5')).toBe(await code.codeVersion('authentication'));
    expect(fx.emulator.log.entries().filter((e) => e.kind === 'file.download' && e.path.startsWith('/service-code/no-md5/')).length).toBeGreaterThan(0);
  });

  it('codeVersion of a missing folder names the folder and what to do', async () => {
    await expect(code.codeVersion('not-uploaded')).rejects.toThrow(/folder "not-uploaded" does not exist in the share.*Upload/);
  });

  it('a client without the account key fails with an actionable error', async () => {
    const wrong = CodeShare.fromConnectionString(fx.emulator.connectionString.replace(fx.emulator.accountKey, Buffer.alloc(64, 7).toString('base64')), 'service-code');
    const err = await wrong.codeVersion('authentication').catch((e: Error) => e);
    expect(String(err)).toMatch(/HTTP 403 AuthenticationFailed/);
    expect(String(err)).not.toContain(fx.emulator.accountKey);
  });

  it('fromSetting names a missing app setting without reading anything else', () => {
    expect(() => CodeShare.fromSetting('CODE_SHARE_CONNECTION', 'service-code', {})).toThrow(/CODE_SHARE_CONNECTION/);
    expect(CodeShare.fromSetting('CODE_SHARE_CONNECTION', 'service-code', { CODE_SHARE_CONNECTION: fx.emulator.connectionString }).shareName).toBe('service-code');
  });
});
