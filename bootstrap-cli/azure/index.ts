/** `bootstrap-cli deploy` to Azure: see deploy.ts (the steps) and command.ts (the CLI wiring). */
export { runAzureDeploy, appUrlOf, type AzureDeployOptions, type AzureDeployDeps, type AzureDeployResult } from './deploy.js';
export { registerAzureDeploy, addAzureDeployOptions, toAzureDeployOptions, type AzureDeployCliOptions } from './command.js';
export { buildFunctionPackage, productionClosure, type FunctionPackage } from './package.js';
export { publishPackage, latestDeployment, type KuduTarget } from './publish.js';
export { infraNames, appSettings, templateParameters, generatedSecrets, namedResources, type InfraNames } from './infra.js';
export { writeZip } from './zip.js';
