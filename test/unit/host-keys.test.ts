/** The VMs' SSH host keys: derived per VM and creation, real OpenSSH keys, carried as cloud-config customData. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { deriveHostKey, hostKeyCustomData } from '../../functions/cloud/host-keys.js';
import { fingerprintOf } from '../../functions/cloud/ssh.js';
import { sshHostKeyConfig } from '../../local/azure/vm/cloud-init.js';

const SEED = 'a-seed-of-some-32-random-chars-x';

describe('host keys', () => {
  it('derives one key per seed, VM and key id, and only from all three', () => {
    const a = deriveHostKey(SEED, 'vm-a', 'k1');
    expect(deriveHostKey(SEED, 'vm-a', 'k1')).toEqual(a);
    const others = [deriveHostKey(SEED, 'vm-b', 'k1'), deriveHostKey(SEED, 'vm-a', 'k2'), deriveHostKey(`${SEED}y`, 'vm-a', 'k1')];
    for (const o of others) expect(o.fingerprint).not.toBe(a.fingerprint);
    expect(() => deriveHostKey('short', 'vm-a', 'k1')).toThrow(/host-key seed is too short/);
  });

  it('is an OpenSSH Ed25519 key that ssh-keygen and ssh2 read, with the fingerprint sshd shows', () => {
    const pair = deriveHostKey(SEED, 'vm-a', 'k1');
    const dir = mkdtempSync(join(tmpdir(), 'lcm-hostkey-'));
    try {
      const file = join(dir, 'key');
      writeFileSync(file, pair.privateKey, { mode: 0o600 });
      expect(execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim()).toBe(pair.publicKey);
      expect(execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' }).split(' ')[1]).toBe(pair.fingerprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const parsed = ssh2.utils.parseKey(pair.privateKey);
    expect(parsed).not.toBeInstanceOf(Error);
    const key = Array.isArray(parsed) ? parsed[0]! : (parsed as Exclude<typeof parsed, Error | unknown[]>);
    expect(key.type).toBe('ssh-ed25519');
    expect(fingerprintOf(key.getPublicSSH())).toBe(pair.fingerprint);
  });

  it('rides in customData as a cloud-config that the local VM reads back', () => {
    const pair = deriveHostKey(SEED, 'vm-a', 'k1');
    const customData = hostKeyCustomData(pair);
    const text = Buffer.from(customData, 'base64').toString('utf8');
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    expect(sshHostKeyConfig('vm-a', customData)).toEqual({
      keys: { ed25519: { private: pair.privateKey, public: pair.publicKey } },
      deleteKeys: true,
      genKeyTypes: [],
    });
    // What cloud-init does without a config, and what a local VM cannot run.
    expect(sshHostKeyConfig('vm-a', undefined)).toBeUndefined();
    expect(sshHostKeyConfig('vm-a', Buffer.from('#cloud-config\n').toString('base64'))).toEqual({ keys: {}, deleteKeys: true, genKeyTypes: ['rsa', 'ecdsa', 'ed25519'] });
    expect(() => sshHostKeyConfig('vm-a', Buffer.from('#!/bin/sh\necho hi\n').toString('base64'))).toThrow(/not a #cloud-config/);
    expect(() => sshHostKeyConfig('vm-a', Buffer.from('#cloud-config\nssh_keys:\n  ed25519_private: nope\n').toString('base64'))).toThrow(/ed25519_private is not a private key/);
  });
});
