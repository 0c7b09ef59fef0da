/** Reading a topology document (YAML, which includes JSON) into a validated Topology. */
import { parseDocument } from 'yaml';
import { TopologyValidationError, validateTopology, type TopologyIssue, type ValidationResult } from './validate.js';
import type { Topology } from './topology.js';

/** Parses and validates; YAML syntax errors come back as issues with their line and column. */
export function parseTopology(text: string): ValidationResult<Topology> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: TopologyIssue[] = doc.errors.map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
      message: `YAML syntax: ${e.message.split('\n')[0]}`,
    }));
    return { ok: false, issues };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: '', message: 'the topology must be a mapping with name, azure, vms, kafka and services' }] };
  }
  return validateTopology(raw);
}

/** Parses and validates, throwing one error that lists every issue. */
export function loadTopology(text: string, source?: string): Topology {
  const result = parseTopology(text);
  if (!result.ok) throw new TopologyValidationError(result.issues, source);
  return result.value;
}
