/**
 * The central UI's static files (built by ui/build.ts into `<app root>/dist/www`), served by the
 * LCM itself so the UI exists wherever the LCM runs. Anonymous: these are the only anonymous files
 * besides health and the OpenAPI document, and they hold no data; every data call the page makes
 * goes to the API with the operator's key in the x-functions-key header.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';

/** The app root is the folder holding host.json: the checkout locally, wwwroot in the package. */
function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'host.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const UI_DIR = join(appRoot(), 'dist', 'www');
const ASSET = /^app-[0-9a-f]{12}\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** No inline script or style, nothing from elsewhere: the page talks to this origin's API only. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

async function index(): Promise<HttpResponseInit> {
  let html: Buffer;
  try {
    html = await readFile(join(UI_DIR, 'index.html'));
  } catch {
    return {
      status: 503,
      jsonBody: { error: `the central UI is not built in ${UI_DIR}: run \`npm run build\` (the local stack and the Azure packaging build it themselves)` },
    };
  }
  return { status: 200, body: html, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS } };
}

/** GET /api/ui: the page. */
export async function getUiIndex(): Promise<HttpResponseInit> {
  return index();
}

/**
 * GET /api/ui/{file}: a hashed script or stylesheet (cached for good), or the page for any other
 * name (the UI routes with `#/...`, so a reload of any link lands on the page). Only names of the
 * hashed pattern reach the file system: no path can be read outside the UI's folder.
 */
export async function getUiAsset(request: HttpRequest): Promise<HttpResponseInit> {
  const file = request.params.file ?? '';
  const m = ASSET.exec(file);
  if (!m) return index();
  try {
    const body = await readFile(join(UI_DIR, file));
    return { status: 200, body, headers: { 'content-type': TYPES[m[1]!]!, 'cache-control': 'public, max-age=31536000, immutable', ...SECURITY_HEADERS } };
  } catch {
    return { status: 404, jsonBody: { error: `no UI file "${file}": reload the page (the UI was rebuilt)` } };
  }
}
