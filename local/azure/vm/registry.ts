/**
 * The image registry on this machine: Debian's `docker-registry` (the CNCF distribution registry)
 * listening on the project bridge, storage in the project cache so pushed images outlive a run.
 * The VMs' Docker engines use it as their Docker Hub mirror, so `FROM node:20-bookworm-slim` and
 * `docker pull apache/kafka:3.9.1` are real pulls, of images built here and pushed over the
 * registry's HTTP API (monolithic blob uploads, OCI manifests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { cacheDir, type ImageDefinition } from './images.js';

export interface LocalRegistry {
  /** host:port, what the engines' --registry-mirror points at. */
  address: string;
  push(image: ImageDefinition): Promise<void>;
  stop(): Promise<void>;
}

/** The registry closes idle keep-alive connections now and then: retry a request once or twice. */
async function request(url: string | URL, init?: RequestInit, body?: () => RequestInit['body']): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { ...init, ...(body ? { body: body() } : {}) });
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

export async function startRegistry(options: { host: string; port: number; runDir: string }): Promise<LocalRegistry> {
  const storage = join(cacheDir(), 'registry');
  mkdirSync(storage, { recursive: true });
  const address = `${options.host}:${options.port}`;
  const config = join(options.runDir, 'registry.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(storage)} }, delete: { enabled: false } }`,
      `http: { addr: ${JSON.stringify(address)} }`,
      '',
    ].join('\n'),
  );
  let proc: ChildProcess;
  try {
    // It dies with this process, even on a crash (no orphaned registry).
    proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`cannot start docker-registry (${(e as Error).message}): install it with \`apt-get install -y docker-registry\``);
  }
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('error', () => {});
  const base = `http://${address}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`docker-registry exited at start (${stderr.trim().split('\n').pop() ?? 'no output'}); is it installed (\`apt-get install -y docker-registry\`)?`);
    }
    try {
      if ((await fetch(`${base}/v2/`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on ${base} within 10 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  async function hasBlob(repo: string, digest: string): Promise<boolean> {
    return (await request(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).ok;
  }

  async function pushBlob(repo: string, digest: string, size: number, body: () => Readable | Buffer): Promise<void> {
    if (await hasBlob(repo, digest)) return;
    const start = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`registry refused an upload to ${repo}: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location')!, base);
    location.searchParams.set('digest', digest);
    const res = await request(
      location,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, duplex: 'half' } as RequestInit,
      () => {
        const b = body();
        return Buffer.isBuffer(b) ? b : (Readable.toWeb(b) as ReadableStream);
      },
    );
    if (res.status !== 201) throw new Error(`registry refused blob ${digest} for ${repo}: ${res.status} ${await res.text()}`);
  }

  return {
    address,
    async push(image) {
      const repo = image.repository;
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: image.config,
          rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.digest) },
          history: image.layers.map(() => ({ created_by: 'life-cycle-manager local image build' })),
        }),
      );
      const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      for (const layer of image.layers) await pushBlob(repo, layer.digest, layer.size, () => createReadStream(layer.file));
      await pushBlob(repo, configDigest, config.length, () => config);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
      });
      for (const tag of image.tags) {
        const res = await request(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
        if (res.status !== 201) throw new Error(`registry refused the manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
