/**
 * The Unix socket between a VM's docker CLI stand-in and its engine: one JSON request
 * ({args, cwd, stdin}) per connection, half-closed by the client, answered by one JSON reply.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { EngineReply, EngineRequest } from './engine.js';

export class EngineSocket {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(readonly path: string, handle: (req: EngineRequest) => Promise<EngineReply>) {
    this.server = createServer({ allowHalfOpen: true }, (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => undefined);
      const chunks: Buffer[] = [];
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('end', () => {
        let reply: Promise<EngineReply>;
        try {
          const req = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EngineRequest;
          if (!Array.isArray(req.args) || typeof req.cwd !== 'string') throw new Error('bad request');
          reply = handle(req);
        } catch (e) {
          reply = Promise.resolve({ stdout: '', stderr: `docker: malformed request to the emulated engine (${(e as Error).message})\n`, code: 1 });
        }
        reply
          .catch((e: Error) => ({ stdout: '', stderr: `Error response from daemon: ${e.message}\n`, code: 1 }))
          .then((r) => { if (!sock.destroyed) sock.end(JSON.stringify(r)); });
      });
    });
  }

  listen(): Promise<void> {
    rmSync(this.path, { force: true }); // a stale socket from a killed fleet
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
    rmSync(this.path, { force: true });
  }
}
