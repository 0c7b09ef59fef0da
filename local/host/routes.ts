/**
 * Route templates of HTTP triggers, as the Functions host (ASP.NET routing) reads them:
 * `vms/{name}/restart`, optional `{id?}`, constraints `{n:int}` (only int/alpha/bool checked),
 * catch-all `{*rest}`. Matching is case-insensitive on literals.
 */
export interface CompiledRoute {
  template: string;
  regex: RegExp;
  params: string[];
  /** Fewer parameters first, so literal routes win over parameter routes. */
  specificity: number;
}

const CONSTRAINTS: Record<string, string> = { int: '-?\\d+', long: '-?\\d+', alpha: '[A-Za-z]+', bool: '(?:true|false)', guid: '[0-9a-fA-F-]{36}' };

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoute(template: string): CompiledRoute {
  const segments = template.replace(/^\/+|\/+$/g, '').split('/');
  const params: string[] = [];
  let pattern = '';
  let paramCount = 0;
  for (const segment of segments) {
    const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (!m) {
      if (segment.includes('{')) throw new Error(`Route "${template}": segment "${segment}" mixes text and parameters, which the local host does not support.`);
      pattern += '/' + escapeRegex(segment);
      continue;
    }
    const [, catchAll, name, constraint, optional] = m;
    params.push(name);
    paramCount += 1;
    const body = catchAll ? '.*' : constraint && CONSTRAINTS[constraint.toLowerCase()] ? CONSTRAINTS[constraint.toLowerCase()] : '[^/]+';
    pattern += optional || catchAll ? `(?:/(${body}))?` : `/(${body})`;
  }
  return { template, regex: new RegExp(`^${pattern}/?$`, 'i'), params, specificity: paramCount };
}

/** Match a path below the route prefix (e.g. `/vms/a/restart`), returning decoded parameters. */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const m = route.regex.exec(path);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  route.params.forEach((name, i) => {
    const v = m[i + 1];
    // A malformed escape stays as sent (like Azure's host); the route's own validation answers it.
    if (v !== undefined) params[name] = safeDecode(v);
  });
  return params;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
