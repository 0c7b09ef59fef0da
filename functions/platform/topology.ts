/**
 * The desired state of a platform: what the operator writes in topology.yaml and what the LCM
 * reads from the central database. Pure domain: no Azure, no I/O.
 */
import { z } from 'zod';
import { isReservedAdminName } from './vm-rules.js';

/** Lowercase DNS label: these names reach shell commands, container names and Azure resource names. */
export const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** App setting names (which in Azure may hold Key Vault references): what a secret reference is. */
export const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SOURCE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** The most replicas one service may have (each takes a host port on its VM). */
export const MAX_REPLICAS = 20;

/** The name the Kafka step carries in plans, dependencies and registry entries. */
export const KAFKA = 'kafka';

const dnsLabel = z
  .string({ required_error: 'is required' })
  .regex(DNS_LABEL, 'must be a lowercase DNS label (a-z, 0-9, "-", starting with a letter, at most 63 characters)');
const settingName = z
  .string({ required_error: 'is required' })
  .regex(SETTING_NAME, 'must be the name of an app setting (letters, digits, "_"), not a secret value');
const port = z
  .number({ required_error: 'is required', invalid_type_error: 'must be a number' })
  .int('must be an integer')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

export const azureContextSchema = z
  .object({
    subscriptionId: z
      .string({ required_error: 'is required' })
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a subscription GUID'),
    resourceGroup: z
      .string({ required_error: 'is required' })
      .regex(/^[-\w.()]{1,89}[-\w()]$/, 'must be a resource group name (1-90 letters, digits, "-", "_", ".", "(", ")")'),
    location: z.string({ required_error: 'is required' }).regex(/^[a-z0-9]+$/, 'must be an Azure region such as westeurope'),
    storage: z
      .object({
        account: z
          .string({ required_error: 'is required' })
          .regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name (3-24 lowercase letters and digits)'),
        share: z
          .string({ required_error: 'is required' })
          .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a file share name (3-63 lowercase letters, digits, single "-")'),
      })
      .strict(),
    cosmos: z
      .object({
        account: z
          .string({ required_error: 'is required' })
          .regex(/^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$/, 'must be a Cosmos DB account name (3-44 lowercase letters, digits, "-")'),
        database: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a database id').default('lcm'),
      })
      .strict(),
  })
  .strict();

export const vmImageSchema = z
  .object({
    publisher: z.string().min(1),
    offer: z.string().min(1),
    sku: z.string().min(1),
    version: z.string().min(1).default('latest'),
  })
  .strict();

export const DEFAULT_VM_IMAGE = {
  publisher: 'Canonical',
  offer: '0001-com-ubuntu-server-jammy',
  sku: '22_04-lts-gen2',
  version: 'latest',
} as const;

export const vmSchema = z
  .object({
    name: dnsLabel,
    size: z.string({ required_error: 'is required' }).regex(/^[A-Za-z0-9_]+$/, 'must be a VM size such as Standard_B2s'),
    image: vmImageSchema.default(DEFAULT_VM_IMAGE),
    adminUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Linux user name (lowercase, at most 32 characters)')
      .refine((name) => !isReservedAdminName(name), (name) => ({ message: `"${name}" is a name Azure refuses for a VM's admin user (reserved); use e.g. azureuser` }))
      .default('azureuser'),
    /** Name of the app setting that holds the VM's SSH private key (never the key itself). */
    sshKeySecret: settingName,
  })
  .strict();

export const topicSchema = z
  .object({
    name: z.string({ required_error: 'is required' }).regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name'),
    partitions: z.number().int().min(1, 'must be at least 1').default(1),
    replicationFactor: z.number().int().min(1, 'must be at least 1').default(1),
  })
  .strict();

/** Bounds and default (5 min) of `kafka.startupTimeoutInMs`. */
export const KAFKA_STARTUP_LIMITS = { min: 10_000, max: 20 * 60_000, default: 5 * 60_000 } as const;

export const kafkaSchema = z
  .object({
    vm: dnsLabel,
    port: port.default(9092),
    /** Folder in the code share holding the broker's image definition. */
    source: z.string().regex(SOURCE_PATH, 'must be a relative path inside the share').default('kafka'),
    topics: z.array(topicSchema).default([]),
    /**
     * How long the started broker may take to answer (its JVM starts slowly on a loaded VM). At most
     * 20 min: `startKafka` runs in one activity, which the function timeout (30 min) ends.
     */
    startupTimeoutInMs: z
      .number()
      .int()
      .min(KAFKA_STARTUP_LIMITS.min, `must be at least ${KAFKA_STARTUP_LIMITS.min} (10 s)`)
      .max(KAFKA_STARTUP_LIMITS.max, `must be at most ${KAFKA_STARTUP_LIMITS.max} (20 min, within the activity's function timeout)`)
      .default(KAFKA_STARTUP_LIMITS.default),
  })
  .strict();

export const SERVICE_KINDS = ['microservice', 'app', 'model'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export const healthSchema = z
  .object({
    path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, 'must be an absolute URL path such as /health').default('/health'),
    timeoutInMs: z.number().int().min(100).max(60_000).default(2_000),
    /** How long a started service may take to become healthy. */
    startupTimeoutInMs: z.number().int().min(1_000).max(600_000).default(60_000),
  })
  .strict();

export const serviceSchema = z
  .object({
    name: dnsLabel,
    kind: z.enum(SERVICE_KINDS, { errorMap: () => ({ message: `must be one of ${SERVICE_KINDS.join(', ')}` }) }),
    vm: dnsLabel,
    port,
    /** Folder in the code share (relative path) with the service's code and Dockerfile. */
    source: z.string({ required_error: 'is required' }).regex(SOURCE_PATH, 'must be a relative path inside the share'),
    env: z
      .record(z.string().regex(ENV_NAME, 'must be an environment variable name'), z.union([z.string(), z.number(), z.boolean()]))
      .default({}),
    /** Environment variables whose values are secrets: variable name -> app setting name. */
    secretEnv: z.record(z.string().regex(ENV_NAME, 'must be an environment variable name'), settingName).default({}),
    dependsOn: z.array(z.string()).default([]),
    health: healthSchema.default({}),
    role: z.literal('monitoring', { errorMap: () => ({ message: 'must be "monitoring" when set' }) }).optional(),
    /**
     * How many containers of the service run (default 1). Each replica has its own container and host
     * port (see platform/replicas.ts), is health-checked and registered on its own.
     */
    replicas: z
      .number({ invalid_type_error: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be at least 1')
      .max(MAX_REPLICAS, `must be at most ${MAX_REPLICAS}`)
      .optional(),
    /** VMs to spread the replicas over, round robin (default: `vm` alone). `vm` must be the first. */
    vms: z.array(dnsLabel).min(1, 'must list at least one VM').max(MAX_REPLICAS, `must list at most ${MAX_REPLICAS} VMs`).optional(),
  })
  .strict();

/**
 * VM sizes the LCM may create unless the topology lists its own (`settings.vmSizes`): small general
 * purpose sizes, so a caller of `POST /api/vms` cannot provision the largest GPU size.
 */
export const DEFAULT_VM_SIZES = [
  'Standard_B1s',
  'Standard_B1ms',
  'Standard_B2s',
  'Standard_B2ms',
  'Standard_B4ms',
  'Standard_D2s_v5',
  'Standard_D4s_v5',
] as const;

export const settingsSchema = z
  .object({
    /** The VM sizes allowed for this platform's VMs (the topology's and those added through the API). */
    vmSizes: z
      .array(z.string().regex(/^[A-Za-z0-9_]+$/, 'must be a VM size such as Standard_B2s'))
      .min(1, 'must list at least one VM size')
      .max(50, 'must list at most 50 sizes')
      .default([...DEFAULT_VM_SIZES]),
    restart: z
      .object({
        initialBackoffInMs: z.number().int().min(0).default(10_000),
        maxBackoffInMs: z.number().int().min(0).default(300_000),
        resetAfterInMs: z.number().int().min(0).default(600_000),
        maxFailures: z.number().int().min(1).default(5),
      })
      .strict()
      .default({}),
    watchdog: z
      .object({
        intervalInMs: z.number().int().min(1_000).default(30_000),
        failuresBeforeRestart: z.number().int().min(1).default(3),
      })
      .strict()
      .default({}),
  })
  .strict();

export const topologySchema = z
  .object({
    name: dnsLabel,
    azure: azureContextSchema,
    vms: z.array(vmSchema).min(1, 'must list at least one VM'),
    kafka: kafkaSchema.optional(),
    services: z.array(serviceSchema).default([]),
    settings: settingsSchema.default({}),
  })
  .strict();

export type AzureContext = z.infer<typeof azureContextSchema>;
export type VmSpec = z.infer<typeof vmSchema>;
export type KafkaSpec = z.infer<typeof kafkaSchema>;
export type ServiceSpec = z.infer<typeof serviceSchema>;
export type Settings = z.infer<typeof settingsSchema>;
export type Topology = z.infer<typeof topologySchema>;
/** What an operator writes: defaults not yet applied. */
export type TopologyInput = z.input<typeof topologySchema>;
