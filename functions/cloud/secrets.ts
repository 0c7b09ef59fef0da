/**
 * Secrets are referenced by app setting name (in Azure the setting holds a Key Vault reference the
 * platform resolves). They are read here, inside activities, and never returned to an orchestration.
 */
import ssh2 from 'ssh2';

// ssh2 is CommonJS: under plain Node only its default export is visible.
const { utils } = ssh2;

export class MissingSecretError extends Error {
  constructor(readonly setting: string, purpose: string) {
    super(
      `app setting "${setting}" is not set: it must hold ${purpose} ` +
        `(in Azure a Key Vault reference such as @Microsoft.KeyVault(SecretUri=...); locally, local.settings.json or the environment)`,
    );
    this.name = 'MissingSecretError';
  }
}

/**
 * App Service leaves a Key Vault reference it could not resolve (the identity has no role on the
 * vault yet, the secret does not exist, the vault is unreachable) as the literal reference text.
 */
export class UnresolvedSecretError extends Error {
  constructor(readonly setting: string, purpose: string) {
    super(
      `app setting "${setting}" holds an unresolved Key Vault reference instead of ${purpose}: ` +
        `check that the secret exists in the vault and that the function app's managed identity has the Key Vault Secrets User role on it ` +
        `(Azure portal: the app > Environment variables shows each reference's status), then restart the app`,
    );
    this.name = 'UnresolvedSecretError';
  }
}

export function readSecretSetting(setting: string, purpose: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[setting];
  if (value === undefined || value.trim() === '') throw new MissingSecretError(setting, purpose);
  if (/^\s*@Microsoft\.KeyVault\(/i.test(value)) throw new UnresolvedSecretError(setting, purpose);
  // Settings cannot always carry newlines: accept "\n" escapes in PEM/OpenSSH keys.
  return value.includes('\\n') && !value.includes('\n') ? value.replace(/\\n/g, '\n') : value;
}

/** The OpenSSH public key line for a private key (what a VM is created with). */
export function publicKeyOf(privateKey: string, setting: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new Error(`app setting "${setting}" does not hold a usable SSH private key (OpenSSH or PEM, without passphrase)`);
  }
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/**
 * A new ed25519 key pair in OpenSSH format. ssh2's generator now and then (about 2 in 1,000)
 * produces a private key its own parser rejects as malformed: such a key is drawn again.
 */
export function generateSshKeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}
