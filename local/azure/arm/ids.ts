/** ARM resource ids and request paths. ARM treats names and path segments case-insensitively. */

export interface ResourceRef {
  sub: string;
  rg: string;
  /** Provider namespace as written, e.g. Microsoft.Network. */
  namespace: string;
  /** Lowercase top-level type, e.g. virtualnetworks. */
  type: string;
  name: string;
  /** Lowercase child type (subnets, securityrules) when the path names a child resource. */
  childType?: string;
  childName?: string;
  /** Trailing action segment (start, restart, powerOff, deallocate, instanceView), lowercase. */
  action?: string;
}

export type ParsedPath =
  | { route: 'resourceGroup'; sub: string; rg: string }
  | { route: 'resource'; ref: ResourceRef }
  | { route: 'operation'; sub: string; namespace: string; location: string; id: string; result: boolean }
  | { route: 'unknown' };

export function parsePath(pathname: string): ParsedPath {
  const segments = pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  const lower = segments.map((s) => s.toLowerCase());
  if (lower[0] !== 'subscriptions' || !segments[1]) return { route: 'unknown' };
  const sub = segments[1];
  // /subscriptions/{sub}/providers/{ns}/locations/{loc}/operations|operationResults/{id}
  if (lower[2] === 'providers' && lower[4] === 'locations' && segments.length === 8) {
    if (lower[6] !== 'operations' && lower[6] !== 'operationresults') return { route: 'unknown' };
    return { route: 'operation', sub, namespace: segments[3]!, location: segments[5]!, id: segments[7]!, result: lower[6] === 'operationresults' };
  }
  if (lower[2] !== 'resourcegroups' || !segments[3]) return { route: 'unknown' };
  const rg = segments[3];
  if (segments.length === 4) return { route: 'resourceGroup', sub, rg };
  if (lower[4] !== 'providers' || segments.length < 8) return { route: 'unknown' };
  const ref: ResourceRef = { sub, rg, namespace: segments[5]!, type: lower[6]!, name: segments[7]! };
  if (segments.length === 9) ref.action = lower[8];
  else if (segments.length === 10) {
    ref.childType = lower[8];
    ref.childName = segments[9];
  } else if (segments.length > 10) return { route: 'unknown' };
  return { route: 'resource', ref };
}

/** Parses a full resource id (as found in request bodies) into its reference. */
export function parseResourceId(id: unknown): ResourceRef | undefined {
  if (typeof id !== 'string') return undefined;
  const parsed = parsePath(id);
  return parsed.route === 'resource' && !parsed.ref.action ? parsed.ref : undefined;
}

export const resourceGroupId = (sub: string, rg: string): string => `/subscriptions/${sub}/resourceGroups/${rg}`;

export const resourceId = (sub: string, rg: string, namespace: string, type: string, name: string): string =>
  `${resourceGroupId(sub, rg)}/providers/${namespace}/${type}/${name}`;

/** Case-insensitive map key of a resource. */
export const keyOf = (sub: string, rg: string, type: string, name: string): string =>
  [sub, rg, type, name].map((s) => s.toLowerCase()).join('|');
