/**
 * Local Cosmos DB endpoint: @vercel/cosmosdb-server in process (in memory, starts empty) on
 * 127.0.0.1:<random port>. Plain http by default; HTTPS with the run's own certificate when `tls`
 * is given (the package's bundled certificate expired in 2021). Clients must set
 * `connectionPolicy.enableEndpointDiscovery: false` (see functions/cloud/cosmos-common.ts).
 * Every request is authorized first as the service authorizes it (cosmos-auth.ts): master-key
 * signatures with a fresh date, or Entra tokens from the local identity; with `localAuthDisabled`
 * (the template's `disableLocalAuth: true`) Entra tokens only.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createCosmosClient } from '../../functions/cloud/cosmos-common.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHttpServer, createHttpsServer } from '@vercel/cosmosdb-server';
import { authorizeCosmosRequest, type CosmosAuthPolicy } from './cosmos-auth.js';
import type { LocalIdentity } from './identity.js';
import type { LocalTls } from './tls.js';

/** The Cosmos DB emulator's published, well-known key (not a secret): the account key master-key requests are signed with. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CosmosEmulatorOptions {
  /** When given: serve HTTPS with this certificate; otherwise plain http. */
  tls?: LocalTls;
  /** The account's `disableLocalAuth`: master keys are refused (default false). */
  localAuthDisabled?: boolean;
  /** Verifies Entra tokens (AAD requests are refused without it). */
  identity?: Pick<LocalIdentity, 'verify'>;
  /** The server's clock for date checks (tests). */
  now?: () => number;
  /** The account's name in the service's messages (default lcm-local). */
  accountName?: string;
}

/** A database and its containers, as the control plane (ARM: sqlDatabases, containers) creates them. */
export interface CosmosSchema {
  database: string;
  containers: ReadonlyArray<{ id: string; partitionKey: string }>;
}

export interface CosmosEmulator {
  /** e.g. http://127.0.0.1:41234/ */
  endpoint: string;
  key: string;
  localAuthDisabled: boolean;
  /**
   * Creates a database and containers through the control plane, as an ARM deployment of
   * sqlDatabases/containers does on Azure (the data plane refuses that to Entra tokens).
   */
  provision(schema: CosmosSchema): Promise<void>;
  stop(): Promise<void>;
}

export async function startCosmosEmulator(options: CosmosEmulatorOptions = {}): Promise<CosmosEmulator> {
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
  const scheme = options.tls ? 'https' : 'http';
  let endpoint = '';
  const policy: CosmosAuthPolicy = {
    key: EMULATOR_KEY,
    localAuthDisabled: options.localAuthDisabled ?? false,
    identity: options.identity,
    endpoint: () => endpoint,
    now: options.now,
    accountName: options.accountName ?? 'lcm-local',
    // Never leaves this module: what the local control plane signs its requests with.
    controlPlaneKey: randomBytes(64).toString('base64'),
  };
  // In front of the package's own handler: a refused request never reaches the data.
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const verdict = authorizeCosmosRequest(req, policy);
    if ('status' in verdict) {
      req.resume();
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-ms-activity-id': randomUUID() };
      if (verdict.substatus !== undefined) headers['x-ms-substatus'] = String(verdict.substatus);
      res.writeHead(verdict.status, headers);
      res.end(JSON.stringify({ code: verdict.code, message: verdict.message }));
      return;
    }
    for (const handle of handlers) handle.call(server, req, res);
  });
  // Track sockets so stop() does not wait for clients' keep-alive connections to time out.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  endpoint = `${scheme}://127.0.0.1:${port}/`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    key: EMULATOR_KEY,
    localAuthDisabled: policy.localAuthDisabled,
    async provision(schema) {
      const client = createCosmosClient({ endpoint, key: policy.controlPlaneKey, caCert: options.tls?.cert });
      try {
        const { database } = await client.databases.createIfNotExists({ id: schema.database });
        for (const c of schema.containers) await database.containers.createIfNotExists({ id: c.id, partitionKey: { paths: [c.partitionKey] } });
      } finally {
        client.dispose();
      }
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
