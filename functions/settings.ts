/**
 * The app settings the LCM reads (see local.settings.sample.json). Settings that hold secrets are
 * read where they are used (functions/cloud/secrets.ts); this module only reads addresses and knobs.
 */
export interface LcmSettings {
  armEndpoint?: string;
  /** Emulator only: a fixed bearer token instead of DefaultAzureCredential. */
  armStaticToken?: string;
  armPollIntervalInMs: number;
  /** Client-side ARM pacing (requests per second); defaults stay under ARM's budgets. */
  armReadsPerSecond: number;
  armWritesPerSecond: number;
  cosmosEndpoint: string;
  /** Cosmos DB is reached with the app's identity (Entra tokens; the account has local auth off). */
  cosmosDatabase: string;
  /** Name of the setting that holds the code storage connection string. */
  storageConnectionSetting: string;
  codeShare: string;
  /** Extra certificate to trust (the local emulators' self-signed one). */
  caCert?: string;
  sshPort: number;
  /** How long one SSH connection attempt waits for the handshake, and how many attempts a command gets. */
  sshConnectTimeoutInMs: number;
  sshConnectAttempts: number;
  /** Reach VMs (SSH, the Kafka admin port) on their private addresses, over the app's VNet integration. */
  vmPrivateNetwork: boolean;
  /** The LCM API's base URL, given to the monitoring service. */
  publicApiUrl?: string;
  /** Name of the setting holding the key the monitoring service calls the API with. */
  monitoringKeySetting: string;
  /** Name of the setting holding the key the other services read the registry with (functions/http/roles.ts). */
  serviceKeySetting: string;
  /** Name of the setting holding the secret the VMs' SSH host keys are derived from (host-keys.ts). */
  hostKeySeedSetting: string;
}

export class SettingsError extends Error {
  constructor(setting: string, problem: string) {
    super(`app setting ${setting} ${problem} (see local.settings.sample.json)`);
    this.name = 'SettingsError';
  }
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new SettingsError(name, `must be a non-negative integer, got "${raw}"`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): LcmSettings {
  const cosmosEndpoint = env.LCM_COSMOS_ENDPOINT;
  if (!cosmosEndpoint) throw new SettingsError('LCM_COSMOS_ENDPOINT', 'is not set: it is the central database endpoint');
  return {
    armEndpoint: env.LCM_ARM_ENDPOINT || undefined,
    armStaticToken: env.LCM_ARM_STATIC_TOKEN || undefined,
    armPollIntervalInMs: int(env, 'LCM_ARM_POLL_INTERVAL_MS', 2_000),
    armReadsPerSecond: int(env, 'LCM_ARM_READS_PER_SECOND', 20),
    armWritesPerSecond: int(env, 'LCM_ARM_WRITES_PER_SECOND', 8),
    cosmosEndpoint,
    cosmosDatabase: env.LCM_COSMOS_DATABASE || 'lcm',
    storageConnectionSetting: 'LCM_STORAGE_CONNECTION_STRING',
    codeShare: env.LCM_CODE_SHARE || 'service-code',
    caCert: env.LCM_CA_CERT || undefined,
    sshPort: int(env, 'LCM_SSH_PORT', 22),
    sshConnectTimeoutInMs: int(env, 'LCM_SSH_CONNECT_TIMEOUT_MS', 20_000),
    sshConnectAttempts: Math.max(1, int(env, 'LCM_SSH_CONNECT_ATTEMPTS', 6)),
    vmPrivateNetwork: env.LCM_VM_PRIVATE_NETWORK === 'true',
    publicApiUrl: env.LCM_PUBLIC_API_URL || undefined,
    monitoringKeySetting: 'LCM_MONITORING_API_KEY',
    serviceKeySetting: 'LCM_SERVICE_API_KEY',
    hostKeySeedSetting: 'LCM_HOST_KEY_SEED',
  };
}
