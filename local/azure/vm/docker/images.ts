/**
 * The image store of one VM's engine: `docker build` reads the Dockerfile, copies the build
 * context into the VM's sandbox (the image's filesystem: the service runs from there) and records
 * what a run needs. Image ids hash the Dockerfile and the context, so rebuilding unchanged code
 * gives the same id (like Docker's layer cache).
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseDockerfile, type DockerfileInfo } from './dockerfile.js';

export interface ImageRecord extends Omit<DockerfileInfo, 'steps'> {
  /** 'sha256:<64 hex>' */
  id: string;
  tags: string[];
  created: number;
  /** The copied build context: the service's working directory. */
  dir: string;
  size: number;
  /** Base name of a special (in-process) image, e.g. 'apache/kafka'. */
  special?: string;
}

export class BuildError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

/** `name` -> `name:latest`; digests and tags kept. */
export function normalizeRef(ref: string): string {
  const lastPart = ref.slice(ref.lastIndexOf('/') + 1);
  return lastPart.includes(':') || ref.includes('@') ? ref : `${ref}:latest`;
}

export function specialBaseOf(from: string, bases: string[]): string | undefined {
  return bases.find((b) => from === b || from.startsWith(`${b}:`) || from.startsWith(`${b}@`));
}

function walk(dir: string, out: string[] = [], root = dir): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name === '.git') continue;
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) walk(full, out, root);
    else if (st.isFile()) out.push(relative(root, full));
  }
  return out;
}

export interface BuildResult { image: ImageRecord; log: string }

/** Builds (or re-tags) an image. Throws BuildError with docker-like text. */
export function buildImage(opts: {
  context: string;
  dockerfile?: string;
  tags: string[];
  storeDir: string;
  specialBases: string[];
  existing: (id: string) => ImageRecord | undefined;
}): BuildResult {
  const { context } = opts;
  if (!existsSync(context) || !statSync(context).isDirectory()) throw new BuildError(`unable to prepare context: path "${context}" not found`);
  const dockerfilePath = opts.dockerfile ? resolve(opts.dockerfile) : join(context, 'Dockerfile');
  if (!existsSync(dockerfilePath)) {
    throw new BuildError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dockerfilePath}: no such file or directory`);
  }
  const text = readFileSync(dockerfilePath, 'utf8');
  let info;
  try {
    info = parseDockerfile(text);
  } catch (err) {
    throw new BuildError(`ERROR: ${(err as Error).message}`);
  }
  const special = specialBaseOf(info.from, opts.specialBases);
  const steps = info.steps;
  const lines = [`Sending build context to Docker daemon (emulated)`];
  steps.forEach((step, i) => {
    lines.push(`Step ${i + 1}/${steps.length} : ${step}`, ` ---> ${randomBytes(6).toString('hex')}`);
  });
  const failMarker = join(context, '.fail-build');
  if (existsSync(failMarker)) {
    const why = readFileSync(failMarker, 'utf8').trim() || 'deliberate build failure (.fail-build)';
    throw new BuildError(`${lines.join('\n')}\nERROR: failed to solve: process "/bin/sh -c ${why}" did not complete successfully: exit code: 1`);
  }
  if (!special && !info.cmd && !info.entrypoint) {
    throw new BuildError(
      `${lines.join('\n')}\nERROR: failed to solve: no CMD or ENTRYPOINT in ${dockerfilePath}: the emulated engine cannot start a container of this image (add CMD ["node","server.js"])`,
    );
  }

  const hash = createHash('sha256').update(text);
  const files = walk(context);
  let size = 0;
  for (const f of files) {
    const data = readFileSync(join(context, f));
    size += data.length;
    hash.update(`\0${f}\0`).update(data);
  }
  const hex = hash.digest('hex');
  const id = `sha256:${hex}`;
  const dir = join(opts.storeDir, hex.slice(0, 12));
  if (!existsSync(dir)) cpSync(context, dir, { recursive: true, filter: (src) => !src.split('/').includes('.git') });
  const image: ImageRecord = opts.existing(id) ?? {
    id,
    tags: [],
    created: Date.now(),
    from: info.from,
    workdir: info.workdir,
    cmd: info.cmd,
    entrypoint: info.entrypoint,
    expose: info.expose,
    env: info.env,
    dir,
    size,
    special,
  };
  lines.push(`Successfully built ${hex.slice(0, 12)}`);
  for (const t of opts.tags) lines.push(`Successfully tagged ${t}`);
  return { image, log: lines.join('\n') + '\n' };
}
