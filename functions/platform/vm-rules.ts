/**
 * What Azure accepts for a Linux VM's admin account, as data and pure checks (no Azure import):
 * the admin names Compute refuses, and the SSH public keys it accepts (RSA of 2048 bits or more,
 * or Ed25519; ECDSA and short RSA keys are refused with InvalidParameter on keyData).
 * Source: the `adminUsername` description of the Compute OSProfile model ("Disallowed values")
 * and "Supported SSH key formats" in the Azure VM documentation.
 */

/** Compute's disallowed admin user names (case-insensitive). */
export const RESERVED_ADMIN_NAMES: ReadonlySet<string> = new Set([
  'administrator', 'admin', 'user', 'user1', 'test', 'user2', 'test1', 'user3', 'admin1', '1', '123', 'a',
  'actuser', 'adm', 'admin2', 'aspnet', 'backup', 'console', 'david', 'guest', 'john', 'owner', 'root',
  'server', 'sql', 'support', 'support_388945a0', 'sys', 'test2', 'test3', 'user4', 'user5',
]);

export const isReservedAdminName = (name: string): boolean => RESERVED_ADMIN_NAMES.has(name.toLowerCase());

export const MIN_RSA_BITS = 2048;

/**
 * Why Azure would refuse this OpenSSH public key line (`<type> <base64> [comment]`), or undefined
 * when it is accepted. Never includes the key itself in the answer.
 */
export function sshPublicKeyProblem(line: string): string | undefined {
  const match = /^(\S+) ([A-Za-z0-9+/]+={0,3})( [^\r\n]*)?$/.exec(line.trim());
  if (!match) return 'is not an OpenSSH public key line ("ssh-ed25519 AAAA..." or "ssh-rsa AAAA...")';
  const type = match[1]!;
  const blob = Buffer.from(match[2]!, 'base64');
  const fields = sshFields(blob);
  if (!fields || fields[0]?.toString('latin1') !== type) return `is malformed: its ${type} key data does not decode`;
  if (type === 'ssh-ed25519') return fields[1]?.length === 32 ? undefined : 'is malformed: an Ed25519 key has 32 bytes';
  if (type === 'ssh-rsa') {
    const modulus = fields[2];
    if (!modulus) return 'is malformed: the RSA key has no modulus';
    const bits = bitLength(modulus);
    return bits >= MIN_RSA_BITS ? undefined : `is an RSA key of ${bits} bits: Azure accepts RSA keys of at least ${MIN_RSA_BITS} bits, or Ed25519`;
  }
  return `has type ${type}: Azure accepts only ssh-rsa (at least ${MIN_RSA_BITS} bits) and ssh-ed25519 keys`;
}

/** The SSH wire format: a sequence of uint32-length-prefixed strings. */
function sshFields(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(at);
    at += 4;
    if (at + length > blob.length) return undefined;
    out.push(blob.subarray(at, at + length));
    at += length;
  }
  return out;
}

/** Bits of an mpint (big-endian, a leading zero byte keeps it positive). */
function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]!));
}
