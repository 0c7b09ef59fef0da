/**
 * A service's npm dependencies travel with its code: the VMs build images without reaching the npm
 * registry, so before upload each package a service's package.json names under "dependencies" is
 * copied from this project's node_modules into a staged copy of the service's folder
 * (node_modules/<name>), with the packages it depends on. The version must be the one installed here.
 */
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface Manifest {
  version?: string;
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

/**
 * The folder to upload for a service: `dir` itself when it declares no dependencies, else a staged
 * copy with them under node_modules. `cleanup` removes the staged copy.
 */
export async function withDependencies(dir: string, service: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const own = await manifest(join(dir, 'package.json'));
  const wanted = Object.entries(own?.dependencies ?? {});
  if (wanted.length === 0) return { dir, cleanup: async () => {} };
  if (await stat(join(dir, 'node_modules')).then(() => true, () => false)) {
    throw new Error(`service "${service}": ${dir}/node_modules exists; remove it, its dependencies are copied in at upload`);
  }
  const staged = await mkdtemp(join(tmpdir(), `lcm-code-${service}-`));
  try {
    await cp(dir, staged, { recursive: true });
    const copied = new Set<string>();
    const queue = [...wanted];
    while (queue.length > 0) {
      const [name, range] = queue.shift()!;
      if (copied.has(name)) continue;
      const from = installedPackage(name, service);
      const pkg = (await manifest(join(from, 'package.json')))!;
      if (wanted.some(([n, v]) => n === name && v !== pkg.version)) {
        throw new Error(`service "${service}" asks for ${name}@${range}, this project has ${name}@${pkg.version}: pin the installed version in its package.json`);
      }
      await cp(from, join(staged, 'node_modules', name), { recursive: true });
      copied.add(name);
      queue.push(...Object.entries(pkg.dependencies ?? {}));
    }
    return { dir: staged, cleanup: () => rm(staged, { recursive: true, force: true }) };
  } catch (e) {
    await rm(staged, { recursive: true, force: true });
    throw e;
  }
}
