/**
 * Local Cosmos DB endpoint: @vercel/cosmosdb-server in process (in memory, starts empty) on
 * 127.0.0.1:<random port>. Plain http by default; HTTPS with the run's own certificate when `tls`
 * is given (the package's bundled certificate expired in 2021). Clients must set
 * `connectionPolicy.enableEndpointDiscovery: false` (see functions/cloud/cosmos-common.ts).
 */
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHttpServer, createHttpsServer } from '@vercel/cosmosdb-server';
import type { LocalTls } from './tls.js';

/** The Cosmos DB emulator's published, well-known key (not a secret). The server accepts any key. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CosmosEmulatorOptions {
  /** When given: serve HTTPS with this certificate; otherwise plain http. */
  tls?: LocalTls;
}

export interface CosmosEmulator {
  /** e.g. http://127.0.0.1:41234/ */
  endpoint: string;
  key: string;
  stop(): Promise<void>;
}

export async function startCosmosEmulator(options: CosmosEmulatorOptions = {}): Promise<CosmosEmulator> {
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
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
  const scheme = options.tls ? 'https' : 'http';
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `${scheme}://127.0.0.1:${port}/`,
    key: EMULATOR_KEY,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
