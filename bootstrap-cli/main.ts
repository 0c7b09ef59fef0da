#!/usr/bin/env node
/** bootstrap-cli: validates a topology, plans it, and (later) deploys and follows the LCM. */
import { Command, CommanderError } from 'commander';
import { planTopology } from '../functions/platform/plan.js';
import { readConfig, issuesText, requireConfig } from './config.js';
import { CliError, EXIT, processIo, type CliIo } from './io.js';
import { planJson, planTable } from './plan-view.js';

export function buildProgram(io: CliIo): Command {
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
    .description('show the order in which the platform starts')
    .requiredOption('-c, --config <file>', 'topology YAML file')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const plan = planTopology(await requireConfig(opts.config));
      io.out(opts.json ? JSON.stringify(planJson(plan), null, 2) : planTable(plan));
    });

  for (const cmd of program.commands) cmd.showHelpAfterError().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) }).exitOverride();
  return program;
}

/** Runs the CLI and returns its exit code (0 ok, 1 the operation failed, 2 usage). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
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
  });
}
