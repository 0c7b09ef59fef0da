/**
 * The local File endpoint applies the File service's naming rules, seen through the real
 * @azure/storage-file-share SDK: share names (3-63, lower case, digits, single hyphens), file and
 * directory names (at most 255, no " \ / : | < > * ? or control characters, not "." or ".."),
 * and names that are case-insensitive but case-preserving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShareClient } from '@azure/storage-file-share';
import { errorOf, startFilesFixture, type FilesFixture } from './setup.js';

let fx: FilesFixture;
let share: ShareClient;

beforeAll(async () => {
  fx = await startFilesFixture();
  share = fx.service.getShareClient('names');
  await share.create();
});
afterAll(async () => fx?.close());


describe('share names', () => {
  it('refuses upper case, too short, too long, leading/trailing or double hyphens, other characters: 400 InvalidResourceName', async () => {
    for (const name of ['Names', 'ab', 'a'.repeat(64), '-abc', 'abc-', 'a--b', 'a_b', 'a.b']) {
      expect(await errorOf(fx.service.getShareClient(name).create()), name).toEqual({ statusCode: 400, code: 'InvalidResourceName' });
    }
    expect((await fx.service.getShareClient('a'.repeat(63)).createIfNotExists()).succeeded).toBe(true);
    expect((await fx.service.getShareClient('a-b-3').createIfNotExists()).succeeded).toBe(true);
  });
});

describe('file and directory names', () => {
  it('refuses the characters the service refuses and names over 255 characters: 400 InvalidResourceName, nothing created', async () => {
    for (const name of ['a"b', 'a:b', 'a|b', 'a<b', 'a>b', 'a*b', 'a?b', 'a\u0001b', 'x'.repeat(256)]) {
      expect(await errorOf(share.getDirectoryClient(name).create()), JSON.stringify(name)).toEqual({ statusCode: 400, code: 'InvalidResourceName' });
      expect(await errorOf(share.rootDirectoryClient.getFileClient(name).create(1)), JSON.stringify(name)).toEqual({ statusCode: 400, code: 'InvalidResourceName' });
    }
    const listed: string[] = [];
    for await (const item of share.rootDirectoryClient.listFilesAndDirectories()) listed.push(item.name);
    expect(listed).toEqual([]);
    await share.rootDirectoryClient.getFileClient('y'.repeat(255)).create(1);
  });

  it('are case-insensitive and case-preserving: another case addresses the same file and directory', async () => {
    const dir = share.getDirectoryClient('Config');
    await dir.create();
    const file = dir.getFileClient('Settings.JSON');
    const body = Buffer.from('{"a":1}');
    await file.create(body.length);
    await file.uploadRange(body, 0, body.length);

    // Read and overwrite through other cases.
    const other = share.getDirectoryClient('CONFIG').getFileClient('settings.json');
    expect((await other.downloadToBuffer()).toString()).toBe('{"a":1}');
    const replaced = Buffer.from('{"b":2}');
    await other.create(replaced.length);
    await other.uploadRange(replaced, 0, replaced.length);
    expect((await file.downloadToBuffer()).toString()).toBe('{"b":2}');

    // One entry each, listed with the case it was created with.
    expect(await errorOf(share.getDirectoryClient('config').create())).toEqual({ statusCode: 409, code: 'ResourceAlreadyExists' });
    const names: string[] = [];
    for await (const item of dir.listFilesAndDirectories()) names.push(item.name);
    expect(names).toEqual(['Settings.JSON']);
    const root: string[] = [];
    for await (const item of share.rootDirectoryClient.listFilesAndDirectories()) if (item.kind === 'directory') root.push(item.name);
    expect(root).toEqual(['Config']);

    await share.getDirectoryClient('config').getFileClient('SETTINGS.json').delete();
    expect(await errorOf(file.getProperties())).toMatchObject({ statusCode: 404 });
  });
});
