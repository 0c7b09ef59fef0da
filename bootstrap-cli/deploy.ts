/**
 * `bootstrap-cli deploy --local`: start the local LCM, start the boot through its API, follow it
 * with live progress, report what runs and what failed, then serve the API until SIGINT/SIGTERM
 * (or exit after the boot with --once).
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { BootOutput } from '../functions/orchestrations/boot-platform.js';
import type { BootProgress } from '../functions/platform/boot-state.js';
import { planTopology } from '../functions/platform/plan.js';
import { ACTIVE_STATES, errorText, LcmApi, type OperationStatus } from './api-client.js';
import { requireConfig } from './config.js';
import { PACKAGE_ROOT } from './package-root.js';
import { CliError, EXIT, type CliIo } from './io.js';
import { startLocalDeployment, type LocalDeployment } from './local-deployment.js';
import { FrameProgress, LineProgress, layoutOf } from './progress.js';
import { checkCodeFolders } from './seed.js';
import { dataFlowLine } from './data-flow.js';
import { apiUsage, deploySummary, failureReport, registryTable, type RegistryRow } from './views.js';

/** The example platform, found from the package (works from any working directory, from sources or dist/). */
export const EXAMPLE_CONFIG = join(PACKAGE_ROOT, 'examples', 'iot-platform', 'topology.yaml');

export interface DeployOptions {
  local?: boolean;
  config: string;
  code?: string;
  once?: boolean;
  json?: boolean;
  port: string;
  verbose?: boolean;
  /** Worker processes of the local Functions host (an Elastic Premium app scaled out); default 1. */
  workers?: string;
}

/** Resolves when SIGINT or SIGTERM arrives; a second signal during shutdown exits at once. */
function stopSignal(io: CliIo, say: (line: string) => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.err(`${name} again: exiting without cleaning up`);
      process.exit(130);
    }
    say(`${name}: stopping everything this deploy started...`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port ${text}: must be a port number (0-65535)`, EXIT.usage);
  return port;
}

export function parseWorkers(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new CliError(`--workers ${text}: must be a whole number of worker processes from 1 to 16`, EXIT.usage);
  return n;
}

export async function deploy(opts: DeployOptions, io: CliIo): Promise<number> {
  const port = parsePort(opts.port);
  const workers = parseWorkers(opts.workers ?? '1');
  const topology = await requireConfig(opts.config);
  const codeRoot = resolve(opts.code ?? join(dirname(opts.config), 'services'));
  const missing = await checkCodeFolders(topology, codeRoot);
  if (missing.length) throw new CliError(`service code missing under ${codeRoot} (pass the folder with --code DIR):\n  ${missing.join('\n  ')}`, EXIT.failed);

  // With --json, stdout carries only the final object: everything else goes to stderr.
  const say = opts.json ? io.err : io.out;
  const tty = opts.json ? Boolean(io.errIsTty) : io.isTty;
  const keyFromEnv = Boolean(process.env.LCM_API_KEY);
  const apiKey = process.env.LCM_API_KEY || randomBytes(18).toString('base64url');
  const stop = stopSignal(io, say);
  let deployment: LocalDeployment | undefined;
  try {
    deployment = await startLocalDeployment({
      topology,
      codeRoot,
      port,
      apiKey,
      workers,
      log: opts.verbose ? (line) => io.err(line) : undefined,
      onPhase: (line) => say(line),
    });
    if (deployment.generatedSecrets.length) say(`local values generated for the secret settings ${deployment.generatedSecrets.join(', ')} (not shown)`);
    if (stop.signal.aborted) return EXIT.failed;

    const api = new LcmApi(deployment.apiUrl, apiKey);
    const started = await api.post<{ id: string }>('boot', { requestedBy: 'bootstrap-cli deploy' });
    if (started.status !== 202) throw new CliError(`POST /api/boot: ${started.status} ${errorText(started.body)}`, EXIT.failed);
    say(`boot started: operation ${started.body.id}`);

    const final = await followBoot(api, started.body.id, planTopology(topology), { tty, write: say, signal: stop.signal });
    if (stop.signal.aborted && ACTIVE_STATES.has(final.runtimeStatus)) {
      say('interrupted before the boot finished');
      return EXIT.failed;
    }
    const output = final.output as BootOutput | null;
    const ok = final.runtimeStatus === 'Completed' && output?.status === 'succeeded';
    if (output) {
      const report = failureReport(output);
      if (report) say(report);
    } else {
      say(`the boot ended ${final.runtimeStatus} without a result${typeof final.output === 'string' ? `: ${final.output}` : ''}`);
    }
    say(`boot ${final.runtimeStatus === 'Completed' ? (output?.status ?? 'finished') : final.runtimeStatus.toLowerCase()}`);

    const registry = await api.get<RegistryRow[]>('registry');
    say('');
    say(registry.status === 200 ? registryTable(registry.body) : `registry unavailable: ${errorText(registry.body)}`);
    const flow = registry.status === 200 && ok ? await dataFlowLine(registry.body, { signal: stop.signal }) : undefined;
    if (flow) say(flow);
    say('');
    say(apiUsage(deployment.apiUrl, apiKey, keyFromEnv));
    if (opts.json) io.out(JSON.stringify(deploySummary(final, deployment.apiUrl)));

    if (opts.once) return ok ? EXIT.ok : EXIT.failed;
    say('');
    say('serving the API; press Ctrl-C to stop everything');
    await new Promise<void>((done) => {
      if (stop.signal.aborted) return done();
      stop.signal.addEventListener('abort', () => done(), { once: true });
    });
    return EXIT.ok;
  } finally {
    await deployment?.stop();
    if (deployment) say('stopped: emulators, VMs, services and the API are down');
    stop.dispose();
  }
}

/** Follows the boot, rendering its progress in place on a terminal or as lines otherwise. */
export async function followBoot(
  api: LcmApi,
  id: string,
  plan: ReturnType<typeof planTopology>,
  out: { tty: boolean; write: (text: string) => void; signal?: AbortSignal; intervalMs?: number },
): Promise<OperationStatus> {
  const layout = layoutOf(plan);
  const frames = new FrameProgress(layout);
  const lines = new LineProgress(layout);
  const t0 = Date.now();
  return api.follow(id, {
    intervalMs: out.intervalMs ?? 300,
    signal: out.signal,
    onStatus: (s) => {
      const progress = s.customStatus as BootProgress | null;
      if (out.tty) out.write(frames.frame(progress, Date.now() - t0));
      else for (const line of lines.update(progress)) out.write(line);
    },
  });
}
