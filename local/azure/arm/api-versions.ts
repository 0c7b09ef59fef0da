/**
 * The api-versions the emulator answers, per resource provider namespace, as ARM checks them: a
 * malformed api-version is 400 InvalidApiVersionParameter; a well-formed one the provider does not
 * have is 400 NoRegisteredProviderFound naming the versions it does have. The lists hold what the
 * SDKs in node_modules send (arm-compute 24: 2026-03-01 for virtual machines; arm-network 36:
 * 2025-05-01), what bootstrap-cli sends (infra.ts API) and a few published neighbours; a version
 * not listed here is refused even where real ARM would take it (the stricter side).
 */
import { ArmError } from './errors.js';

const SUPPORTED: Record<string, readonly string[]> = {
  'microsoft.compute': ['2024-03-01', '2024-07-01', '2024-11-01', '2025-04-01', '2026-03-01'],
  'microsoft.network': ['2024-05-01', '2024-07-01', '2024-10-01', '2025-01-01', '2025-03-01', '2025-05-01'],
  'microsoft.resources': ['2021-04-01', '2022-09-01', '2024-03-01', '2024-07-01', '2024-11-01', '2025-04-01'],
  'microsoft.web': ['2022-09-01', '2023-01-01', '2023-12-01', '2024-04-01'],
  'microsoft.storage': ['2023-01-01', '2023-05-01', '2024-01-01'],
  'microsoft.documentdb': ['2024-05-15', '2024-08-15', '2024-11-15'],
  'microsoft.keyvault': ['2023-02-01', '2023-07-01', '2024-11-01'],
  'microsoft.authorization': ['2022-04-01'],
};

const WELL_FORMED = /^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$/;

/** The namespace a request path addresses: its last `/providers/<ns>`, else Microsoft.Resources (groups, subscriptions). */
export function namespaceOf(pathname: string): string {
  const matches = [...pathname.matchAll(/\/providers\/([^/]+)/gi)];
  return (matches.length > 0 ? matches[matches.length - 1]![1]! : 'Microsoft.Resources').toLowerCase();
}

/** Throws the ArmError ARM answers for this api-version on this path, if any. */
export function checkApiVersion(pathname: string, apiVersion: string): void {
  if (!WELL_FORMED.test(apiVersion)) {
    throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid. The supported versions are '${(SUPPORTED['microsoft.resources'] ?? []).join(',')}'.`);
  }
  const namespace = namespaceOf(pathname);
  const supported = SUPPORTED[namespace];
  if (!supported || supported.includes(apiVersion)) return;
  const type = /\/providers\/[^/]+\/([^/]+)/i.exec(pathname.slice(pathname.toLowerCase().lastIndexOf(`/providers/${namespace}`)))?.[1] ?? 'resourceGroups';
  throw new ArmError(
    400,
    'NoRegisteredProviderFound',
    `No registered resource provider found for location 'local' and API version '${apiVersion}' for type '${type}'. The supported api-versions are '${supported.join(', ')}'.`,
  );
}
