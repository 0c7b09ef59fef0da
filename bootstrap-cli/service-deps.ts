/**
 * A service's npm dependencies travel with its code: the VMs build images without reaching the npm
 * registry, so before upload each package a service's package.json names under "dependencies" is
 * bundled from this project's node_modules (esbuild, with what it depends on) into one file,
 * node_modules/<name>/index.js of a staged copy of the service's folder, beside its package.json
 * and licence. One file instead of hundreds keeps the upload and the VM's download short. The
 * version must be the one installed here. A bundle is CommonJS: services import it as
 * `import kafkajs from 'kafkajs'`.
 */
import { build } from 'esbuild';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface Manifest {
  name?: string;
  version?: string;
  license?: string;
  dependencies?: Record<string, string>;
}

async function manifest(file: string): Promise<Manifest | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Manifest);
}

/** The folder of an installed package, or a clear error naming the service that needs it. */
function installedPackage(name: string, service: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`service "${service}" depends on npm package "${name}", which is not installed in this project: add it to package.json and run npm ci`);
  }
}

async function bundle(name: string, from: string, pkg: Manifest, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await build({
    entryPoints: [require.resolve(name)],
    outfile: join(to, 'index.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
    legalComments: 'inline',
  });
  await writeFile(join(to, 'package.json'), `${JSON.stringify({ name, version: pkg.version, license: pkg.license, main: 'index.js' }, null, 2)}\n`);
  for (const licence of ['LICENSE', 'LICENSE.md', 'LICENSE.txt']) {
    if (await stat(join(from, licence)).then(() => true, () => false)) await copyFile(join(from, licence), join(to, licence));
  }
}

/**
 * The folder to upload for a service: `dir` itself when it declares no dependencies, else a staged
 * copy with them bundled under node_modules. `cleanup` removes the staged copy.
 */
export async function withDependencies(dir: string, service: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const own = await manifest(join(dir, 'package.json'));
  const wanted = Object.entries(own?.dependencies ?? {});
  if (wanted.length === 0) return { dir, cleanup: async () => {} };
  if (await stat(join(dir, 'node_modules')).then(() => true, () => false)) {
    throw new Error(`service "${service}": ${dir}/node_modules exists; remove it, its dependencies are bundled in at upload`);
  }
  const staged = await mkdtemp(join(tmpdir(), `lcm-code-${service}-`));
  try {
    await cp(dir, staged, { recursive: true });
    for (const [name, version] of wanted) {
      const from = installedPackage(name, service);
      const pkg = (await manifest(join(from, 'package.json')))!;
      if (version !== pkg.version) {
        throw new Error(`service "${service}" asks for ${name}@${version}, this project has ${name}@${pkg.version}: pin the installed version in its package.json`);
      }
      await bundle(name, from, pkg, join(staged, 'node_modules', name));
    }
    return { dir: staged, cleanup: () => rm(staged, { recursive: true, force: true }) };
  } catch (e) {
    await rm(staged, { recursive: true, force: true });
    throw e;
  }
}
