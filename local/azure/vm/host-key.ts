/**
 * A VM's SSH host key: generated once per VM and kept in its sandbox, so a restarted VM keeps its
 * fingerprint (clients pin it) and a deleted-then-recreated VM gets a new one, as on Azure.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { generateSshKeyPair } from '../../../functions/cloud/secrets.js';

const { utils } = ssh2;

export interface HostKey {
  /** OpenSSH private key text, handed to the ssh2 server only. */
  privateKey: string;
  /** 'SHA256:' + unpadded base64 of sha256(public key blob), like `ssh-keygen -lf`. */
  fingerprint: string;
}

/** The fingerprint of an SSH public key blob (what a client's hostVerifier receives). */
export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export function loadOrCreateHostKey(file: string): HostKey {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const pair = generateSshKeyPair();
    writeFileSync(file, pair.private, { mode: 0o600 });
  }
  const privateKey = readFileSync(file, 'utf8');
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) {
    throw new Error(`VM host key ${file} is unreadable (${parsed.message}); delete the file to regenerate it`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return { privateKey, fingerprint: fingerprintOf(key.getPublicSSH()) };
}
