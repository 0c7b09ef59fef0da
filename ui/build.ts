/**
 * Builds the central UI (ui/src, Preact with esbuild's JSX) into the folder the LCM's `ui`
 * functions serve (`dist/www`): one minified script and one stylesheet named by their content hash, and the
 * index.html that loads them. Run by the local stack before its host starts, by the Azure
 * packaging (into the package), and by `npm run build`; nothing built is committed. Older hashed
 * files are left in place: a page loaded before a rebuild still finds its script.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The checkout (where package.json is), from the sources or from a compiled dist/. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const ROOT = findRoot();
/** Where the app's functions look for the assets: `<app root>/dist/www` (see functions/http/ui.ts). */
export const UI_DIST = join(ROOT, 'dist', 'www');

export interface UiBuild {
  dir: string;
  /** File name -> size in bytes (and gzip size), for the bench. */
  files: Array<{ name: string; bytes: number }>;
  tookInMs: number;
}

const hash = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 12);

export function indexHtml(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Life Cycle Manager</title>
<link rel="stylesheet" href="/api/ui/${style}">
</head>
<body>
<div id="app"><noscript>The Life Cycle Manager's UI needs JavaScript.</noscript></div>
<script type="module" src="/api/ui/${script}"></script>
</body>
</html>
`;
}

/** Builds into `outDir` (default UI_DIST). Files are written beside and renamed, so a reader never sees half a file. */
export async function buildUi(options: { outDir?: string } = {}): Promise<UiBuild> {
  const started = Date.now();
  const dir = options.outDir ?? UI_DIST;
  const result = await build({
    entryPoints: [join(ROOT, 'ui', 'src', 'main.tsx'), join(ROOT, 'ui', 'src', 'style.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    write: false,
    outdir: dir,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!;
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'))!;
  const script = `app-${hash(js.contents)}.js`;
  const style = `app-${hash(css.contents)}.css`;
  const files: Array<[string, Uint8Array]> = [
    [script, js.contents],
    [style, css.contents],
    ['index.html', Buffer.from(indexHtml(script, style))],
  ];
  await mkdir(dir, { recursive: true });
  const tmpTag = `.tmp-${process.pid}-${Date.now()}`;
  for (const [name, data] of files) {
    await writeFile(join(dir, name + tmpTag), data);
    await rename(join(dir, name + tmpTag), join(dir, name));
  }
  return { dir, files: files.map(([name, data]) => ({ name, bytes: data.length })), tookInMs: Date.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildUi();
  console.log(`ui: built ${out.files.map((f) => `${f.name} (${(f.bytes / 1024).toFixed(1)} KiB)`).join(', ')} into ${out.dir} in ${out.tookInMs} ms`);
}
