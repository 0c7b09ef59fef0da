/**
 * What the central database's stores share: the Cosmos client factory, the container layout,
 * the etag-checked read-modify-write loop, and the typed errors the API maps to status codes.
 */
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { CosmosClient, type Container, type CosmosClientOptions } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';

export interface CosmosConnection {
  endpoint: string;
  /** Account key (in Azure: read from an app setting inside the activity; never logged). */
  key?: string;
  /** Managed identity or any TokenCredential, instead of a key. */
  credential?: TokenCredential;
  /** PEM certificate to trust (the local emulator's self-signed one). */
  caCert?: string;
}

export function createCosmosClient(connection: CosmosConnection): CosmosClient {
  if (!connection.key && !connection.credential) {
    throw new Error(
      `Cosmos DB client for ${connection.endpoint}: neither a key nor a credential was given. ` +
        'Give it the app\'s identity (the LCM reaches Cosmos DB with Entra tokens).',
    );
  }
  const options: CosmosClientOptions = {
    endpoint: connection.endpoint,
    // Without this the SDK switches to the address the account advertises (the emulator's https).
    connectionPolicy: { enableEndpointDiscovery: false },
  };
  if (connection.credential) options.aadCredentials = connection.credential;
  else options.key = connection.key;
  if (connection.caCert) options.agent = new https.Agent({ ca: connection.caCert, keepAlive: true });
  return new CosmosClient(options);
}

/** Containers of the central database and their partition key paths. */
export const CONTAINERS = {
  desired: { id: 'desired', partitionKey: '/kind' },
  registry: { id: 'registry', partitionKey: '/service' },
  events: { id: 'events', partitionKey: '/target' },
  hostkeys: { id: 'hostkeys', partitionKey: '/vm' },
  vms: { id: 'vms', partitionKey: '/name' },
} as const;
export type ContainerName = keyof typeof CONTAINERS;

/** Errors the API turns into status codes: `code` is stable, the message is for people. */
export class CentralDbError extends Error {
  constructor(
    readonly code:
      | 'duplicate-vm'
      | 'topology-missing'
      | 'entry-missing'
      | 'invalid-entry'
      | 'concurrency-exhausted'
      | 'cosmos-failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CentralDbError';
  }
}

export interface ConcurrencyOptions {
  /** Attempts of one read-modify-write before giving up (default 60). */
  maxAttempts?: number;
  /** Called on every etag conflict (412 on replace, 409 on a racing create). */
  onConflict?: (conflict: { container: ContainerName; id: string; attempt: number }) => void;
}

/** Counters shared by the stores of one CentralDb (tests read them to prove conflicts happened). */
export interface CentralDbStats {
  etagConflicts: number;
}

export interface StoreContext {
  container(name: ContainerName): Container;
  concurrency: Required<Pick<ConcurrencyOptions, 'maxAttempts'>> & Pick<ConcurrencyOptions, 'onConflict'>;
  stats: CentralDbStats;
}

/** The HTTP status of a Cosmos SDK error (the SDK puts it in `code`), if any. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Wraps an unexpected SDK failure with the step and target; keeps our own errors as they are. */
export function cosmosFailure(step: string, target: string, err: unknown): Error {
  if (err instanceof CentralDbError) return err;
  const status = statusOf(err);
  const cause = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new CentralDbError(
    'cosmos-failed',
    `central database: ${step} for "${target}" failed${status ? ` (HTTP ${status})` : ''}: ${cause}. ` +
      'Check that the Cosmos DB endpoint is reachable, the credential is valid and the schema exists (ensureSchema).',
    { cause: err },
  );
}

const SYSTEM_FIELDS = ['_rid', '_self', '_etag', '_attachments', '_ts'] as const;

/** A stored document without Cosmos's system properties. */
export function withoutSystemFields<T extends object>(doc: T): T {
  const copy = { ...doc } as Record<string, unknown>;
  for (const field of SYSTEM_FIELDS) delete copy[field];
  return copy as T;
}

type Stored<T> = T & { _etag: string };

/**
 * Read-modify-write of one document with optimistic concurrency: replace with IfMatch on the etag
 * read, create when absent; on 412 (or 409 for a racing create) re-read and re-apply. `apply`
 * returns the new document, or undefined to leave it as it is; it may throw to refuse.
 */
export async function readModifyWrite<T extends { id: string }>(
  ctx: StoreContext,
  name: ContainerName,
  id: string,
  partitionKey: string,
  apply: (current: T | undefined) => T | undefined,
): Promise<{ doc: T | undefined; written: boolean }> {
  const container = ctx.container(name);
  for (let attempt = 1; ; attempt++) {
    let current: Stored<T> | undefined;
    try {
      current = (await container.item(id, partitionKey).read<Stored<T>>()).resource;
    } catch (err) {
      throw cosmosFailure(`reading ${name}/${id}`, id, err);
    }
    const next = apply(current ? withoutSystemFields(current) : undefined);
    if (next === undefined) return { doc: current ? withoutSystemFields(current) : undefined, written: false };
    try {
      const response = current
        ? await container.item(id, partitionKey).replace<T>(next, {
            accessCondition: { type: 'IfMatch', condition: current._etag },
          })
        : await container.items.create<T>(next);
      return { doc: withoutSystemFields(response.resource as T), written: true };
    } catch (err) {
      const status = statusOf(err);
      if (status !== 412 && status !== 409) throw cosmosFailure(`writing ${name}/${id}`, id, err);
      ctx.stats.etagConflicts++;
      ctx.concurrency.onConflict?.({ container: name, id, attempt });
      if (attempt >= ctx.concurrency.maxAttempts) {
        throw new CentralDbError(
          'concurrency-exhausted',
          `central database: ${name}/${id} changed under ${attempt} consecutive attempts; gave up. ` +
            'Too many writers race on this document: retry the operation later.',
        );
      }
      // Jittered backoff so racing writers spread out instead of colliding again in lockstep.
      await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
  }
}
