/**
 * Credentials for ARM: DefaultAzureCredential in Azure and on a laptop, a static token for the
 * local ARM emulator, and one error that tells a person how to sign in when no credential works.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';

export interface AzureCredentialOptions {
  /** Client id of a user-assigned managed identity (the function app's), when it has several. */
  managedIdentityClientId?: string;
}

/**
 * The credential the LCM uses against Azure: a managed identity in the function app, the Azure CLI
 * login (`az login`) on a laptop, or a service principal from AZURE_CLIENT_ID / AZURE_TENANT_ID /
 * AZURE_CLIENT_SECRET. (AZURE_TOKEN_CREDENTIALS narrows the chain, e.g. to AzureCliCredential.)
 */
export function azureCredential(options: AzureCredentialOptions = {}): TokenCredential {
  return options.managedIdentityClientId
    ? new DefaultAzureCredential({ managedIdentityClientId: options.managedIdentityClientId })
    : new DefaultAzureCredential();
}

/** A credential for the local ARM emulator, which accepts any bearer token. */
export function staticTokenCredential(token = 'local-emulator-token'): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
    },
  };
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
  'AuthenticationRequiredError',
  'AuthenticationError',
]);

/** True for the errors @azure/identity throws when it cannot get a token. */
export function isCredentialError(err: unknown): boolean {
  return err instanceof Error && CREDENTIAL_ERRORS.has(err.name);
}

export const SIGN_IN_HELP =
  'Sign in with `az login` (Azure CLI) on this machine, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and ' +
  'AZURE_CLIENT_SECRET for a service principal, or run in Azure with a managed identity assigned to the function app ' +
  '(bootstrap-cli deploy grants it the roles it needs: infra/lcm.json).';

/** Raised instead of the raw identity error: names what was being done and how to sign in. */
export class AzureSignInError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`Azure sign-in failed while ${step}: no credential could get a token. ${SIGN_IN_HELP} Cause: ${summarize(cause)}`, { cause });
    this.name = 'AzureSignInError';
  }
}

/** Turns a credential failure into an AzureSignInError; any other error is returned unchanged. */
export function explainCredentialError(err: unknown, step: string): unknown {
  return isCredentialError(err) ? new AzureSignInError(step, err) : err;
}

function summarize(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 600 ? `${oneLine.slice(0, 600)}…` : oneLine;
}
