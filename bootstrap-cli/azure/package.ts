/**
 * The function app package: `dist/` (the app compiled by tsc with infra/tsconfig.functions.json —
 * only functions/, into the staging folder, so the shared ./dist of the checkout is not raced, and
 * the central UI built by ui/build.ts into dist/www),
 * package.json (name, type, main, dependencies), host.json, and the production dependency closure.
 *
 * Choice: the closure is COPIED from the checkout's node_modules (walking `dependencies` from
 * package.json with Node's resolution, nested copies kept where they are), not re-installed with
 * `npm ci --omit=dev`: that needs the registry (CI machines and this one may be offline) and would
 * re-download what is already installed and locked. Optional dependencies of the app itself
 * (azure-functions-core-tools) are left out: they are tools, not runtime code. Source maps and type
 * declarations are pruned (half the size; Node never loads them).
 *
 * The zip is deterministic (sorted entries, fixed times): its SHA-256 names the package, and a
 * build whose inputs (functions/, package.json, package-lock.json, host.json, tsconfigs) did not
 * change reuses the staged zip.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { CliError, EXIT } from '../io.js';
import { writeZip, type ZipEntryInput } from './zip.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { buildUi } from '../../ui/build.js';

const run = promisify(execFile);

export const REPO_ROOT = PACKAGE_ROOT;
export const PACKAGE_FILE = 'lcm-functions.zip';

export interface FunctionPackage {
  zipFile: string;
  sha256: string;
  bytes: number;
  files: number;
  /** The staged zip was reused (inputs unchanged). */
  reused: boolean;
}

// Bump when the package layout changes, so staged zips of an older layout are rebuilt.
const LAYOUT_VERSION = 'layout-2';
const PRUNED = /(\.map|\.d\.ts|\.d\.mts|\.d\.cts|\.tsbuildinfo)$/;

/** Package folders of the production closure, relative to the repo root (node_modules/...). */
export function productionClosure(repoRoot: string): string[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const found = new Set<string>();
  const resolveFrom = (name: string, fromDir: string): string | undefined => {
    for (let dir = fromDir; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (dir === repoRoot || dirname(dir) === dir) return undefined;
    }
  };
  const visit = (name: string, fromDir: string, required: boolean) => {
    const dir = resolveFrom(name, fromDir);
    if (!dir) {
      if (required) throw new CliError(`packaging: production dependency "${name}" (needed from ${relative(repoRoot, fromDir) || 'the app'}) is not installed: run npm ci`, EXIT.failed);
      return;
    }
    if (found.has(dir)) return;
    found.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const dep of Object.keys(pkg['dependencies'] ?? {})) visit(dep, dir, true);
    for (const dep of Object.keys(pkg['optionalDependencies'] ?? {})) visit(dep, dir, false);
    // Peers are the app's to provide: included when installed, never an error here.
    for (const dep of Object.keys(pkg['peerDependencies'] ?? {})) visit(dep, dir, false);
  };
  for (const dep of Object.keys(root.dependencies ?? {})) visit(dep, repoRoot, true);
  return [...found].map((d) => relative(repoRoot, d)).sort();
}

/** Files of one package folder, without its nested node_modules (those are packages of their own). */
function packageFiles(repoRoot: string, rel: string, out: string[]): void {
  const walk = (dirRel: string) => {
    for (const entry of readdirSync(join(repoRoot, dirRel), { withFileTypes: true })) {
      const childRel = join(dirRel, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules' || entry.name === '.bin') continue;
        walk(childRel);
      } else if (entry.isFile() && !PRUNED.test(entry.name)) out.push(childRel);
    }
  };
  walk(rel);
}

function listFiles(dir: string, base = dir, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(full, base, out);
    else if (entry.isFile()) out.push(relative(base, full));
  }
  return out;
}

function inputsHash(repoRoot: string): string {
  const h = createHash('sha256');
  const files = [
    ...listFiles(join(repoRoot, 'functions')).map((f) => join('functions', f)),
    ...listFiles(join(repoRoot, 'ui')).map((f) => join('ui', f)),
    // The UI bundles these CLI views too (the timeline, the failure report).
    join('bootstrap-cli', 'views.ts'),
    join('bootstrap-cli', 'api-client.ts'),
    'package.json',
    'package-lock.json',
    'host.json',
    'tsconfig.json',
    join('infra', 'tsconfig.functions.json'),
  ].sort();
  for (const f of files) {
    if (!existsSync(join(repoRoot, f))) continue;
    h.update(f).update('\0').update(readFileSync(join(repoRoot, f))).update('\0');
  }
  h.update(LAYOUT_VERSION);
  return h.digest('hex');
}

export async function buildFunctionPackage(options: { stagingDir: string; repoRoot?: string; log?: (line: string) => void }): Promise<FunctionPackage> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const log = options.log ?? (() => {});
  const staging = options.stagingDir;
  const zipFile = join(staging, PACKAGE_FILE);
  const stamp = join(staging, 'inputs.sha256');
  const inputs = inputsHash(repoRoot);
  if (existsSync(zipFile) && existsSync(stamp) && (await readFile(stamp, 'utf8')).trim() === inputs) {
    const data = await readFile(zipFile);
    const meta = JSON.parse(await readFile(join(staging, 'package.meta.json'), 'utf8')) as { files: number };
    log(`package: reusing ${zipFile} (sources unchanged)`);
    return { zipFile, sha256: sha256(data), bytes: data.length, files: meta.files, reused: true };
  }
  const app = join(staging, 'app');
  await rm(app, { recursive: true, force: true });
  await mkdir(app, { recursive: true });

  log('package: compiling the function app (tsc -p infra/tsconfig.functions.json)');
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-p', join(repoRoot, 'infra', 'tsconfig.functions.json'), '--outDir', join(app, 'dist')], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`.trim();
    throw new CliError(`packaging: the function app does not compile (fix these errors, then deploy again):\n${out.split('\n').slice(0, 30).join('\n')}`, EXIT.failed);
  }
  // The central UI the app serves (functions/http/ui.ts reads <app root>/dist/www).
  log('package: building the central UI (esbuild)');
  await buildUi({ outDir: join(app, 'dist', 'www') });
  const rootPkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const appPkg = {
    name: rootPkg['name'],
    version: rootPkg['version'],
    private: true,
    type: 'module',
    main: 'dist/functions/index.js',
    engines: rootPkg['engines'],
    dependencies: rootPkg['dependencies'],
  };
  await writeFile(join(app, 'package.json'), JSON.stringify(appPkg, null, 2) + '\n');
  await writeFile(join(app, 'host.json'), await readFile(join(repoRoot, 'host.json')));

  const closure = productionClosure(repoRoot);
  const moduleFiles: string[] = [];
  for (const rel of closure) packageFiles(repoRoot, rel, moduleFiles);
  const appFiles = listFiles(app);
  log(`package: ${appFiles.length} app files, ${closure.length} production packages (${moduleFiles.length} files)`);
  const entries = [
    ...appFiles.map((f) => ({ name: f.split(sep).join('/'), abs: join(app, f) })),
    ...moduleFiles.map((f) => ({ name: f.split(sep).join('/'), abs: join(repoRoot, f) })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  function* zipEntries(): Generator<ZipEntryInput> {
    for (const e of entries) {
      const mode = statSync(e.abs).mode & 0o777;
      yield { name: e.name, data: readFileSync(e.abs), mode: mode & 0o111 ? 0o755 : 0o644 };
    }
  }
  const bytes = await writeZip(zipFile, zipEntries(), { level: 6 });
  await writeFile(join(staging, 'package.meta.json'), JSON.stringify({ files: entries.length }));
  await writeFile(stamp, inputs);
  const sha = sha256(await readFile(zipFile));
  log(`package: ${zipFile} (${(bytes / 1024 / 1024).toFixed(1)} MiB, ${entries.length} files, sha256 ${sha.slice(0, 12)})`);
  return { zipFile, sha256: sha, bytes, files: entries.length, reused: false };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
