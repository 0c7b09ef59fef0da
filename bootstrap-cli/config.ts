/** Reading the topology file a command was pointed at. */
import { readFile } from 'node:fs/promises';
import { parseTopology } from '../functions/platform/load.js';
import { formatIssue, type TopologyIssue } from '../functions/platform/validate.js';
import type { Topology } from '../functions/platform/topology.js';
import { CliError, EXIT } from './io.js';

export type ConfigResult = { ok: true; topology: Topology } | { ok: false; issues: TopologyIssue[] };

export async function readConfig(file: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT' ? `${file}: no such file (pass the topology with --config FILE)` : `${file}: cannot read (${(e as Error).message})`,
      EXIT.usage,
    );
  }
  const result = parseTopology(text);
  return result.ok ? { ok: true, topology: result.value } : { ok: false, issues: result.issues };
}

/** Reads and validates, or throws a CliError listing every issue. */
export async function requireConfig(file: string): Promise<Topology> {
  const result = await readConfig(file);
  if (result.ok) return result.topology;
  throw new CliError(issuesText(file, result.issues), EXIT.failed);
}

export function issuesText(file: string, issues: TopologyIssue[]): string {
  return [`${file}: invalid topology (${issues.length} error${issues.length === 1 ? '' : 's'})`, ...issues.map((i) => `  ${formatIssue(i)}`)].join('\n');
}
