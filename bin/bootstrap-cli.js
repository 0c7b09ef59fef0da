#!/usr/bin/env node
// Runs the compiled CLI when built (npm run build), else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

process.env.BOOTSTRAP_CLI_MAIN = '1';
const compiled = fileURLToPath(new URL('../dist/bootstrap-cli/main.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../bootstrap-cli/main.ts');
}
