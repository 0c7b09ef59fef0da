/**
 * Process entry of the local host:
 *   npx tsx local/host/main.ts --entry functions/index.ts --store .lcm/taskhub.db [--port 7071] [--key K]... [--function-key FUNCTION/NAME=VALUE]... [--system-key K]
 *     [--max-activities N] [--workers N]
 * Prints `listening <baseUrl>` on stdout when ready; stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startLocalHost } from './index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entry: { type: 'string' },
      store: { type: 'string' },
      port: { type: 'string', default: '7071' },
      hostname: { type: 'string', default: '127.0.0.1' },
      key: { type: 'string', multiple: true },
      'function-key': { type: 'string', multiple: true },
      'system-key': { type: 'string' },
      'max-activities': { type: 'string' },
      workers: { type: 'string', default: '1' },
    },
  });
  if (!values.entry || !values.store) {
    process.stderr.write('usage: tsx local/host/main.ts --entry <app module> --store <sqlite file> [--port n] [--key k]... [--system-key k]\n');
    process.exit(2);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port: "${values.port}" is not a port number (0-65535)\n`);
    process.exit(2);
  }
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    process.stderr.write(`--workers: "${values.workers}" is not a number of worker processes (1 or more)\n`);
    process.exit(2);
  }
  const functionSecrets: Record<string, Record<string, string>> = {};
  for (const spec of values['function-key'] ?? []) {
    const m = /^([^/=]+)\/([^/=]+)=(.+)$/.exec(spec);
    if (!m) {
      process.stderr.write('--function-key: expected FUNCTION/NAME=VALUE\n');
      process.exit(2);
    }
    (functionSecrets[m[1]!] ??= {})[m[2]!] = m[3]!;
  }
  const host = await startLocalHost({
    entry: values.entry,
    storeFile: values.store,
    port,
    hostname: values.hostname,
    functionKeys: values.key,
    functionSecrets,
    systemKey: values['system-key'],
    maxConcurrentActivities: values['max-activities'] ? Number(values['max-activities']) : undefined,
    workers,
    log: (line) => process.stderr.write(line + '\n'),
  });
  process.stdout.write(`listening ${host.baseUrl}\n`);
  const shutdown = () => {
    host.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`local host: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err) => {
  process.stderr.write(`local host: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
