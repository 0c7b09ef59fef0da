#!/usr/bin/env node
/** bootstrap-cli: validates and plans a topology, deploys the LCM locally and follows the boot, and operates it. */
import { Command, CommanderError } from 'commander';
import { DEFAULT_API_URL } from './api-client.js';
import { addAzureDeployOptions, runAzureDeploy, toAzureDeployOptions, type AzureDeployCliOptions } from './azure/index.js';
import { deploy, EXAMPLE_CONFIG } from './deploy.js';
import * as operator from './operator.js';
import * as converge from './converge.js';
import { planTopology } from '../functions/platform/plan.js';
import { readConfig, issuesText, requireConfig } from './config.js';
import { CliError, EXIT, processIo, type CliIo } from './io.js';
import { planJson, planTable } from './plan-view.js';

/** `--url`/`--key` of the operator commands; the key is never shown as a default in --help. */
function apiOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `LCM API base URL (default: $LCM_API_URL or ${DEFAULT_API_URL})`)
    .option('--key <key>', 'function key of the API (default: $LCM_API_KEY)')
    .option('--json', 'print JSON');
}

function api(opts: { url?: string; key?: string; json?: boolean }): operator.ApiOptions {
  return { url: opts.url ?? process.env.LCM_API_URL ?? DEFAULT_API_URL, key: opts.key ?? process.env.LCM_API_KEY, json: opts.json };
}

/** Builds the program; commands that decide their own exit code put it in `result.code`. */
export function buildProgram(io: CliIo, result: { code: number } = { code: EXIT.ok }): Command {
  const done = (code: number) => {
    result.code = code;
  };
  const program = new Command('bootstrap-cli')
    .description('Bring a microservice platform up on Azure VMs through the Life Cycle Manager.')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();

  program
    .command('validate')
    .description('check a topology file and list every error in it')
    .requiredOption('-c, --config <file>', 'topology YAML file')
    .action(async (opts: { config: string }) => {
      const result = await readConfig(opts.config);
      if (!result.ok) throw new CliError(issuesText(opts.config, result.issues), EXIT.failed);
      const t = result.topology;
      io.out(`${opts.config}: valid (${t.vms.length} VMs, ${t.services.length} services${t.kafka ? ', kafka' : ''})`);
    });

  program
    .command('plan')
    .description('show the order in which the platform starts; with --against-live, what a reconcile would change on the running platform')
    .option('-c, --config <file>', 'topology YAML file (required without --against-live)')
    .option('--json', 'print the plan as JSON')
    .option('--against-live', 'dry run against the running platform through the API (POST /api/desired-state/plan): the file\'s topology, or the stored one')
    .option('--url <url>', `LCM API base URL, with --against-live (default: $LCM_API_URL or ${DEFAULT_API_URL})`)
    .option('--key <key>', 'function key of the API, with --against-live (default: $LCM_API_KEY)')
    .action(async (opts: { config?: string; json?: boolean; againstLive?: boolean; url?: string; key?: string }) => {
      if (opts.againstLive) return done(await converge.planAgainstLive(opts.config, api(opts), io));
      if (!opts.config) throw new CliError("error: required option '-c, --config <file>' not specified (or pass --against-live)", EXIT.usage);
      const plan = planTopology(await requireConfig(opts.config));
      io.out(opts.json ? JSON.stringify(planJson(plan), null, 2) : planTable(plan));
    });

  apiOptions(
    program
      .command('apply')
      .description('make a topology file the desired state: validate, show the changes, write it with the etag read, follow the reconcile')
      .requiredOption('-c, --config <file>', 'topology YAML file')
      .option('--no-wait', 'return once written, without following the reconcile'),
  ).action(async (opts) => done(await converge.apply(opts.config, { ...api(opts), wait: opts.wait }, io)));

  apiOptions(
    program
      .command('scale')
      .description('set how many replicas of a service run (scale-down drains: deregister, then stop)')
      .argument('<service>', 'service name')
      .argument('<replicas>', 'number of replicas')
      .option('--no-wait', 'return once written, without following the reconcile'),
  ).action(async (service: string, replicas: string, opts) => done(await converge.scale(service, replicas, { ...api(opts), wait: opts.wait }, io)));

  apiOptions(
    program
      .command('move')
      .description('move a service to another VM while it serves (start there, healthy, switch the registry, stop the old one)')
      .argument('<service>', 'service name')
      .argument('<vm>', 'target VM')
      .option('--no-wait', 'return once written, without following the reconcile'),
  ).action(async (service: string, vm: string, opts) => done(await converge.move(service, vm, { ...api(opts), wait: opts.wait }, io)));

  const deployCommand = program
    .command('deploy')
    .description('deploy the LCM (to Azure, or with --local on this machine with emulated Azure), boot the platform and follow it')
    .option('--local', 'run everything locally (emulated Azure, local Functions host), then serve the API')
    .option('-c, --config <file>', 'topology YAML file', EXAMPLE_CONFIG)
    .option('--code <dir>', "folder with each service's code under its source (default: <dir of --config>/services)")
    .option('--once', 'exit after the boot: 0 when every service runs, 1 otherwise')
    .option('--json', 'print one JSON object with the outcome on stdout (progress goes to stderr)')
    .option('--port <n>', 'port of the LCM API on 127.0.0.1', '7071')
    .option('--verbose', 'stream the function app log to stderr')
    .option('--workers <n>', 'worker processes of the local Functions host over one task hub (a scaled-out plan)', '1')
    .addHelpText(
      'after',
      '\nThe API key is $LCM_API_KEY when set, else a generated one (printed). Secret settings the topology\n' +
        'references get random local values unless set in the environment. The durable task hub lives in a\n' +
        'temporary directory for the life of the process: each deploy starts from empty emulators.\n' +
        'Without --local it deploys to Azure (infra/lcm.json) and signs in with DefaultAzureCredential: run `az login` first.',
    );
  addAzureDeployOptions(deployCommand).action(async (opts: Parameters<typeof deploy>[0] & AzureDeployCliOptions) => {
    if (opts.local) return done(await deploy(opts, io));
    return done((await runAzureDeploy(toAzureDeployOptions(opts), { io })).exitCode);
  });

  apiOptions(program.command('status').description('VMs, services and running operations (GET /api/platform)')).action(
    async (opts) => done(await operator.status(api(opts), io)),
  );

  apiOptions(program.command('registry').description('where each service runs: kind, VM, endpoint, status')).action(
    async (opts) => done(await operator.registry(api(opts), io)),
  );

  apiOptions(
    program
      .command('restart')
      .description('restart a service, app, model or VM through the LCM')
      .argument('<kind>', 'service | app | model | vm')
      .argument('<name>', 'its name in the topology')
      .option('--wait', 'follow the operation to its end; exit 0 when it succeeded, 1 otherwise')
      .option('--reason <text>', 'why (recorded in the audit trail)'),
  ).action(async (kind: string, name: string, opts) => done(await operator.restart(kind, name, { ...api(opts), wait: opts.wait, reason: opts.reason }, io)));

  apiOptions(
    program
      .command('provision-vm')
      .description('add a VM to the platform (POST /api/vms)')
      .requiredOption('-f, --file <spec>', 'VM spec, YAML or JSON: {name, size, sshKeySecret, image?, adminUser?}')
      .option('--wait', 'follow the provisioning to its end; exit 0 when it succeeded, 1 otherwise'),
  ).action(async (opts) => done(await operator.provisionVm({ ...api(opts), file: opts.file, wait: opts.wait }, io)));

  apiOptions(
    program
      .command('history')
      .description('recent operations, one operation as a timeline of its steps, or a service\'s restart records')
      .argument('[instance]', 'operation id, e.g. boot or restart-svc-authentication')
      .option('--service <name>', "the recorded events of one service: every restart, who asked, why, how it ended")
      .option('--limit <n>', 'how many recent operations', '20'),
  ).action(async (instance: string | undefined, opts) =>
    done(await operator.history(instance, { ...api(opts), limit: opts.limit, service: opts.service }, io)),
  );

  apiOptions(
    program
      .command('logs')
      .description("a service's container logs, every replica's under a header (or its image build logs), read from its VMs on demand; known secret values are redacted")
      .argument('<service>', 'service name (or kafka)')
      .option('--lines <n>', 'how many of the last lines (1-1000)', '100')
      .option('--replica <n>', "only this replica's log (0 is the first)")
      .option('--build', 'the log of its latest image build instead'),
  ).action(async (service: string, opts) => done(await operator.logs(service, { ...api(opts), lines: opts.lines, build: opts.build, replica: opts.replica }, io)));

  apiOptions(
    program
      .command('reset-host-key')
      .description("forget a recreated VM's pinned SSH host key (operators' key only)")
      .argument('<vm>', 'VM name'),
  ).action(async (vm: string, opts) => done(await operator.resetHostKey(vm, api(opts), io)));

  apiOptions(
    program
      .command('terminate')
      .description('terminate a running operation (operators\' key only)')
      .argument('<operation>', 'operation id, e.g. restart-svc-authentication')
      .option('--reason <text>', 'why (recorded with the termination)'),
  ).action(async (id: string, opts) => done(await operator.terminate(id, { ...api(opts), reason: opts.reason }, io)));

  for (const cmd of program.commands) cmd.showHelpAfterError().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) }).exitOverride();
  return program;
}

/** Runs the CLI and returns its exit code (0 ok, 1 the operation failed, 2 usage). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const result = { code: EXIT.ok as number };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (e instanceof CliError) {
      io.err(e.message);
      return e.exitCode;
    }
    io.err(`bootstrap-cli: ${(e as Error).stack ?? String(e)}`);
    return EXIT.failed;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env.BOOTSTRAP_CLI_MAIN === '1') {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Everything the command started has been stopped and awaited; a client library's idle timer
    // must not keep the process (and a user's terminal) waiting.
    setTimeout(() => process.exit(code), 2_000).unref();
  });
}
