/** Secret settings: a Key Vault reference App Service could not resolve is refused, not used as the secret. */
import { describe, expect, it } from 'vitest';
import { MissingSecretError, readSecretSetting, UnresolvedSecretError } from '../../functions/cloud/secrets.js';

describe('readSecretSetting', () => {
  it('returns the value, with \\n escapes of a key turned into newlines', () => {
    expect(readSecretSetting('K', 'a key', { K: 'line1\\nline2' })).toBe('line1\nline2');
  });

  it('refuses a missing setting', () => {
    expect(() => readSecretSetting('K', 'the SSH private key', {})).toThrow(MissingSecretError);
  });

  it('refuses an unresolved Key Vault reference, naming the setting and what to check, never echoing it', () => {
    const reference = '@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/vm-ssh-private-key/)';
    let error: unknown;
    try {
      readSecretSetting('VM_SSH_PRIVATE_KEY', 'the SSH private key', { VM_SSH_PRIVATE_KEY: reference });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnresolvedSecretError);
    expect((error as Error).message).toMatch(/"VM_SSH_PRIVATE_KEY" holds an unresolved Key Vault reference .*Key Vault Secrets User/);
    expect((error as Error).message).not.toContain('kv-x');
  });
});
