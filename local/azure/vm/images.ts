/**
 * Base images for the local VMs, built on this machine and never pulled from outside: a Debian
 * bookworm root file system from Debian's own packages (debootstrap, minbase, docs pruned as in
 * Debian's slim images) and a Node.js 20 layer made of the host's `node` and `npm` under
 * /usr/local, as the official node image lays them out. Layers are plain tars cached under the
 * project cache directory, so only the first run on a machine pays for debootstrap (~2 min).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One layer: an uncompressed tar with its digest (== its diff id). */
export interface Layer {
  file: string;
  digest: string;
  size: number;
}

/** An image as the registry stores it: layers bottom-up and an OCI image config. */
export interface ImageDefinition {
  /** e.g. 'library/node' (the registry repository) */
  repository: string;
  tags: string[];
  layers: Layer[];
  /** The OCI image config's `config` (what a Dockerfile's ENV, USER, WORKDIR, EXPOSE, ENTRYPOINT, CMD set). */
  config: { Env?: string[]; User?: string; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; ExposedPorts?: Record<string, object> };
}

export const DEBIAN_SUITE = 'bookworm';

export function cacheDir(): string {
  const dir = process.env.LCM_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'life-cycle-manager');
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * A layer from a tar file, kept with its digest beside it (`.digest`) so a cached layer is not
 * hashed again; a tar re-made after its digest was written (newer mtime) is hashed anew.
 */
export async function layerOf(file: string): Promise<Layer> {
  const digestFile = `${file}.digest`;
  const stat = statSync(file);
  const fresh = existsSync(digestFile) && statSync(digestFile).mtimeMs >= stat.mtimeMs;
  const digest = fresh ? readFileSync(digestFile, 'utf8').trim() : await sha256File(file);
  if (!fresh) writeFileSync(digestFile, digest);
  return { file, digest, size: stat.size };
}

/** Serializes builders of one cached file across processes (test files build in parallel). */
async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      // A lock whose owner died is stale.
      const owner = Number(readFileSync(join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (owner && !alive(owner)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${owner}); remove it if no build runs`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function tarDir(dir: string, out: string): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  await run('tar', ['--numeric-owner', '--sort=name', '--xattrs', '-C', dir, '-cf', tmp, '.'], { maxBuffer: 1 << 26 });
  renameSync(tmp, out);
}

/** The Debian layer: debootstrap once per machine, then the cached tar. */
export async function debianLayer(log: (line: string) => void = () => {}): Promise<Layer> {
  // v2: locales pruned too (what Debian's slim images leave out); a new name rebuilds the cache.
  const out = join(cacheDir(), `debian-${DEBIAN_SUITE}-minbase-v2.tar`);
  if (existsSync(out)) return layerOf(out);
  return withLock(out, async () => {
    if (existsSync(out)) return layerOf(out);
    const root = `${out}.rootfs`;
    rmSync(root, { recursive: true, force: true });
    const mirror = process.env.LCM_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
    log(`building the Debian ${DEBIAN_SUITE} base image with debootstrap from ${mirror} (once per machine, about 2 minutes)`);
    try {
      await run('debootstrap', ['--variant=minbase', DEBIAN_SUITE, root, mirror], { maxBuffer: 1 << 26 });
    } catch (e) {
      throw new Error(`debootstrap of Debian ${DEBIAN_SUITE} failed (${(e as Error).message.split('\n')[0]}): install it with \`apt-get install -y debootstrap\` and check that ${mirror} is reachable`);
    }
    // What Debian's slim images drop: docs, man pages, apt caches.
    for (const p of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'var/cache/apt', 'var/lib/apt/lists', 'var/log']) {
      rmSync(join(root, p), { recursive: true, force: true });
      mkdirSync(join(root, p), { recursive: true });
    }
    const aliases = join(root, 'usr/share/locale/locale.alias');
    const keep = existsSync(aliases) ? readFileSync(aliases) : undefined;
    rmSync(join(root, 'usr/share/locale'), { recursive: true, force: true });
    mkdirSync(join(root, 'usr/share/locale'), { recursive: true });
    if (keep) writeFileSync(aliases, keep);
    await tarDir(root, out);
    rmSync(root, { recursive: true, force: true });
    return layerOf(out);
  });
}

/** The Node layer: the host's node binary and npm under /usr/local, keyed by the node version. */
export async function nodeLayer(): Promise<Layer> {
  const node = realpathSync(process.execPath);
  const out = join(cacheDir(), `node-${process.version}-layer.tar`);
  if (existsSync(out)) return layerOf(out);
  return withLock(out, async () => {
    if (existsSync(out)) return layerOf(out);
    const dir = `${out}.dir`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(dir, 'usr/local/lib/node_modules'), { recursive: true });
    await run('cp', ['-a', node, join(dir, 'usr/local/bin/node')]);
    const npm = findNpm(node);
    if (npm) {
      await run('cp', ['-a', npm, join(dir, 'usr/local/lib/node_modules/npm')]);
      await run('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(dir, 'usr/local/bin/npm')]);
      await run('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(dir, 'usr/local/bin/npx')]);
    }
    await tarDir(dir, out);
    rmSync(dir, { recursive: true, force: true });
    return layerOf(out);
  });
}

function findNpm(node: string): string | undefined {
  for (const candidate of [join(dirname(node), '../lib/node_modules/npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm', '/usr/share/nodejs/npm']) {
    if (existsSync(join(candidate, 'bin/npm-cli.js'))) return realpathSync(candidate);
  }
  return undefined;
}

/** A layer from a directory of files (an image build hook's output), cached by the caller's key. */
export async function layerFromDir(key: string, dir: string): Promise<Layer> {
  const out = join(cacheDir(), `layer-${key}.tar`);
  if (existsSync(out)) return layerOf(out);
  return withLock(out, async () => {
    if (!existsSync(out)) await tarDir(dir, out);
    return layerOf(out);
  });
}

export const NODE_MAJOR = process.version.replace(/^v(\d+).*/, '$1');
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `node:20-bookworm-slim` (and `node:20-bookworm`, `node:20`): Debian bookworm + the host's Node 20. */
export async function nodeImage(log?: (line: string) => void): Promise<ImageDefinition> {
  const [debian, node] = await Promise.all([debianLayer(log), nodeLayer()]);
  return {
    repository: 'library/node',
    tags: [`${NODE_MAJOR}-${DEBIAN_SUITE}-slim`, `${NODE_MAJOR}-${DEBIAN_SUITE}`, NODE_MAJOR],
    layers: [debian, node],
    config: { Env: [PATH_ENV, `NODE_VERSION=${process.version.slice(1)}`], Cmd: ['node'] },
  };
}

/** `debian:bookworm-slim`. */
export async function debianImage(log?: (line: string) => void): Promise<ImageDefinition> {
  return { repository: 'library/debian', tags: [`${DEBIAN_SUITE}-slim`, DEBIAN_SUITE], layers: [await debianLayer(log)], config: { Env: [PATH_ENV], Cmd: ['bash'] } };
}
