/**
 * SSH host keys the LCM gives its VMs, so that the first connection to a VM already verifies (no
 * trust on first use). Each VM's Ed25519 host key is derived from one secret (the host-key seed, an
 * app setting: a Key Vault reference on Azure), the VM's name and a per-creation key id that is
 * not secret and is kept with the pinned fingerprint. A VM created again gets a new key id, hence a
 * new key. Deriving instead of storing one secret per VM keeps the app's identity a reader of Key
 * Vault (Secrets User), never a writer. The private half only ever exists inside the activity that
 * creates the VM and in the VM's customData (cloud-init `ssh_keys`), which ARM never returns.
 */
import { createHash, createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto';
import { stringify } from 'yaml';

export interface HostKeyPair {
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... root@VM`. */
  publicKey: string;
  /** `SHA256:...` as node-ssh's hostVerifier and `ssh-keygen -l` see it. */
  fingerprint: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The key pair for `vm` created under `keyId`, derived from `seed` (HKDF-SHA256). */
export function deriveHostKey(seed: string, vm: string, keyId: string): HostKeyPair {
  if (seed.length < 16) throw new Error('the host-key seed is too short: it must hold at least 16 random characters');
  const secret = Buffer.from(hkdfSync('sha256', seed, vm, `lcm-ssh-host-key-v1|${keyId}`, 32));
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const pub = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const comment = `root@${vm}`;
  // openssh-key-v1, unencrypted: the check integers only detect a wrong passphrase, any value does.
  const check = createHash('sha256').update(secret).digest().readUInt32BE(0);
  let section = Buffer.concat([uint32(check), uint32(check), sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([secret, pub])), sshString(comment)]);
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(blob), sshString(section)]);
  const lines = body.toString('base64').match(/.{1,70}/g)!.join('\n');
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
  };
}

/**
 * The VM's customData: a cloud-config whose `ssh_keys` are the host key (cloud-init writes them
 * before sshd starts; `ssh_deletekeys` drops the image's keys, no other type is generated), base64
 * as ARM wants it.
 */
export function hostKeyCustomData(pair: HostKeyPair): string {
  const config = stringify(
    { ssh_deletekeys: true, ssh_genkeytypes: [], ssh_keys: { ed25519_private: pair.privateKey, ed25519_public: pair.publicKey } },
    { lineWidth: 0 },
  );
  return Buffer.from(`#cloud-config\n${config}`).toString('base64');
}
