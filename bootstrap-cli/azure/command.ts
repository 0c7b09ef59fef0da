/**
 * The commander wiring of `bootstrap-cli deploy` to Azure. main.ts belongs to the local deploy; to
 * merge: either call `registerAzureDeploy(program, io)` (adds `deploy-azure`, or `deploy` when given
 * `{ name: 'deploy' }`), or add the options below to the existing `deploy` command and call
 * `runAzureDeploy` when `--local` is absent.
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { runAzureDeploy, type AzureDeployOptions } from './deploy.js';

export function addAzureDeployOptions(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'read only: print each step and what it would create or change')
    .option('--resource-group <rg>', 'resource group of the LCM (default: azure.resourceGroup of the topology)')
    .option('--subscription <id>', 'subscription (default: azure.subscriptionId of the topology)')
    .option('--location <region>', 'region (default: azure.location of the topology)')
    .option('--app-name <name>', 'function app name (global; default lcm-<platform>-<hash>)')
    .option('--key-vault-name <name>', 'Key Vault name (global; default kv-<platform>-<hash>)')
    .option('--staging-dir <dir>', 'where the package is built (reused while the sources do not change)')
    .option('--no-boot', 'stop after publishing and seeding')
    .option('--merge-vms', 'keep VMs added through POST /api/vms that the topology file does not list (default: refuse to drop them while they run)');
}

export interface AzureDeployCliOptions {
  config: string;
  code?: string;
  dryRun?: boolean;
  resourceGroup?: string;
  subscription?: string;
  location?: string;
  appName?: string;
  keyVaultName?: string;
  stagingDir?: string;
  boot?: boolean;
  mergeVms?: boolean;
}

export function toAzureDeployOptions(opts: AzureDeployCliOptions): AzureDeployOptions {
  return {
    config: opts.config,
    code: opts.code,
    dryRun: opts.dryRun,
    resourceGroup: opts.resourceGroup,
    subscription: opts.subscription,
    location: opts.location,
    appName: opts.appName,
    keyVaultName: opts.keyVaultName,
    stagingDir: opts.stagingDir,
    noBoot: opts.boot === false,
    mergeVms: opts.mergeVms,
  };
}

/** Adds the Azure deploy command; `onExit` receives its exit code (main.ts's `done`). */
export function registerAzureDeploy(program: Command, io: CliIo, options: { name?: string; onExit?: (code: number) => void } = {}): Command {
  const cmd = program
    .command(options.name ?? 'deploy-azure')
    .description('deploy the LCM to Azure (infra/lcm.json), publish it, seed the platform, boot it and follow the boot')
    .requiredOption('-c, --config <file>', 'topology YAML file')
    .option('--code <dir>', "folder with each service's code under its source (default: <dir of --config>/services)");
  addAzureDeployOptions(cmd)
    .addHelpText('after', '\nSigns in with DefaultAzureCredential: run `az login` first (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET).')
    .action(async (opts: AzureDeployCliOptions) => {
      const result = await runAzureDeploy(toAzureDeployOptions(opts), { io });
      options.onExit?.(result.exitCode);
    });
  return cmd;
}
