/**
 * Where each validation issue is shown: at the field whose path it names (`services[2].port`),
 * else at the nearest enclosing field the form has (`services[2].env.FOO` -> `services[2].env`),
 * else in the list above the form. Paths are the TopologyIssue paths of functions/platform/validate.ts.
 */
import type { TopologyIssue } from '../../../functions/platform/validate.js';

/** `services[2].env.FOO` -> ['services[2].env.FOO', 'services[2].env', 'services[2]', 'services']. */
export function enclosingPaths(path: string): string[] {
  const out: string[] = [];
  let p = path;
  while (p) {
    out.push(p);
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return out;
}

export interface PlacedIssues {
  /** Field path -> messages shown at that field. */
  atField: Map<string, string[]>;
  /** Issues no field of the form holds (shown in the summary only). */
  unplaced: TopologyIssue[];
}

export function placeIssues(issues: readonly TopologyIssue[], fields: ReadonlySet<string>): PlacedIssues {
  const atField = new Map<string, string[]>();
  const unplaced: TopologyIssue[] = [];
  for (const issue of issues) {
    const field = enclosingPaths(issue.path).find((p) => fields.has(p));
    if (field === undefined) {
      unplaced.push(issue);
      continue;
    }
    // The field's own issue reads as is; an enclosing field says which part is wrong.
    const message = field === issue.path ? issue.message : `${issue.path.slice(field.length).replace(/^\./, '')}: ${issue.message}`;
    atField.set(field, [...(atField.get(field) ?? []), message]);
  }
  return { atField, unplaced };
}

/** The API answers `issues` as `{path, message}` (the contract) or as "path: message" strings (POST /api/vms). */
export function issuesOf(body: unknown): TopologyIssue[] {
  const raw = (body as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(raw)) return [];
  return raw.map((i) => {
    if (i && typeof i === 'object' && typeof (i as TopologyIssue).message === 'string') return { path: String((i as TopologyIssue).path ?? ''), message: (i as TopologyIssue).message };
    const text = String(i);
    const m = /^([A-Za-z_$][\w$]*(?:\[\d+\]|\.[A-Za-z_$][\w$]*|\["[^"]*"\])*): (.*)$/s.exec(text);
    return m ? { path: m[1]!, message: m[2]! } : { path: '', message: text };
  });
}
