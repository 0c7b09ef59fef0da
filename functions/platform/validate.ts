/**
 * Validation of a topology: the schema's structural checks plus the cross-references a schema
 * cannot express. Every error carries the path of what is wrong; all errors are reported at once.
 */
import type { ZodError, ZodIssue } from 'zod';
import { envValueIssue, MAX_ENV_VALUE, MAX_NAME } from './guard.js';
import { placements } from './replicas.js';
import { DEFAULT_VM_SIZES, KAFKA, MAX_REPLICAS, topologySchema, vmSchema, type Topology, type VmSpec } from './topology.js';

export interface TopologyIssue {
  /** Where, as `services[3].dependsOn[0]`; empty for the document itself. */
  path: string;
  message: string;
}

export class TopologyValidationError extends Error {
  readonly issues: TopologyIssue[];
  constructor(issues: TopologyIssue[], source?: string) {
    const head = `${source ? `${source}: ` : ''}invalid topology (${issues.length} error${issues.length === 1 ? '' : 's'})`;
    super([head, ...issues.map((i) => `  ${formatIssue(i)}`)].join('\n'));
    this.name = 'TopologyValidationError';
    this.issues = issues;
  }
}

export function formatIssue(issue: TopologyIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: TopologyIssue[] };

/** Validates a parsed document (from YAML or JSON). */
export function validateTopology(raw: unknown): ValidationResult<Topology> {
  const issues: TopologyIssue[] = [];
  const parsed = topologySchema.safeParse(raw);
  if (!parsed.success) issues.push(...fromZod(parsed.error, raw));
  issues.push(...inlineSecrets(raw));
  issues.push(...crossReferences(raw));
  issues.push(...unsafeValues(raw));
  const unique = dedupe(issues);
  if (unique.length > 0 || !parsed.success) return { ok: false, issues: unique };
  return { ok: true, value: parsed.data };
}

/** Like validateTopology, but throws a TopologyValidationError listing every issue. */
export function assertTopology(raw: unknown, source?: string): Topology {
  const result = validateTopology(raw);
  if (!result.ok) throw new TopologyValidationError(result.issues, source);
  return result.value;
}

/** Validates a VM to be added to an existing topology (the API's provision route). */
export function validateVmAddition(topology: Topology, raw: unknown): ValidationResult<VmSpec> {
  const parsed = vmSchema.safeParse(raw);
  const issues: TopologyIssue[] = [];
  if (!parsed.success) issues.push(...fromZod(parsed.error, raw));
  issues.push(...inlineSecrets(raw));
  if (parsed.success && topology.vms.some((vm) => vm.name === parsed.data.name)) {
    issues.push({ path: 'name', message: `a VM named "${parsed.data.name}" already exists` });
  }
  if (isRecord(raw)) issues.push(...sizeIssues(raw.size, 'size', topology.settings?.vmSizes ?? [...DEFAULT_VM_SIZES]));
  const unique = dedupe(issues);
  if (unique.length > 0 || !parsed.success) return { ok: false, issues: unique };
  return { ok: true, value: parsed.data };
}

// ---------------------------------------------------------------------------------------------

const SECRET_KEY = /(password|passwd|secret|token|api[-_]?key|access[-_]?key|account[-_]?key|private[-_]?key|connection[-_]?string|credential)/i;
const SECRET_VALUE = /(-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=|SharedAccessSignature=|[?&]sig=)/;

function fromZod(error: ZodError, raw: unknown): TopologyIssue[] {
  const out: TopologyIssue[] = [];
  for (const issue of error.issues) out.push(...fromZodIssue(issue, raw));
  return out;
}

function fromZodIssue(issue: ZodIssue, raw: unknown): TopologyIssue[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .filter((key) => !SECRET_KEY.test(key)) // reported by inlineSecrets with a better message
      .map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
  }
  if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    return [{ path, message: 'is required' }];
  }
  if (issue.code === 'invalid_type') {
    return [{ path, message: `must be ${article(issue.expected)}, got ${describe(valueAt(raw, issue.path))}` }];
  }
  return [{ path, message: issue.message }];
}

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'a mapping';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // Never echo what may be a secret pasted in the wrong place, nor a long value.
  if (typeof value === 'string' && (SECRET_VALUE.test(value) || value.length > 80)) return `a string of ${value.length} characters`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(raw: unknown, path: ReadonlyArray<string | number>): unknown {
  let cur: unknown = raw;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

/** Secrets belong in app settings (Key Vault references in Azure); the topology names them. */
function inlineSecrets(raw: unknown): TopologyIssue[] {
  const out: TopologyIssue[] = [];
  const walk = (value: unknown, path: Array<string | number>, inEnv: boolean, inSecretRefs: boolean): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, [...path, i], false, false));
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childPath = [...path, key];
      if (inSecretRefs) continue; // values under secretEnv are references by design
      if (inEnv) {
        if (typeof child === 'string' && child !== '' && (SECRET_KEY.test(key) || SECRET_VALUE.test(child))) {
          out.push({
            path: formatPath(childPath),
            message: `looks like a secret written inline; move it to secretEnv as ${key}: <name of the app setting that holds it>`,
          });
        }
        continue;
      }
      if (key === 'env') {
        walk(child, childPath, true, false);
        continue;
      }
      if (key === 'secretEnv') {
        walk(child, childPath, false, true);
        continue;
      }
      const isReference = /Secret$/.test(key);
      if (!isReference && SECRET_KEY.test(key) && (typeof child === 'string' || typeof child === 'number')) {
        out.push({
          path: formatPath(childPath),
          message:
            'a secret written inline where a reference belongs: the topology names secrets, it never holds them ' +
            '(use sshKeySecret for VM keys, secretEnv for service secrets, each naming an app setting)',
        });
        continue;
      }
      if (typeof child === 'string' && SECRET_VALUE.test(child)) {
        out.push({ path: formatPath(childPath), message: 'holds what looks like a secret value; reference an app setting by name instead' });
        continue;
      }
      walk(child, childPath, false, false);
    }
  };
  walk(raw, [], false, false);
  return out;
}

/** A size outside the platform's allow-list (settings.vmSizes). */
function sizeIssues(size: unknown, path: string, allowed: readonly string[]): TopologyIssue[] {
  if (typeof size !== 'string' || !/^[A-Za-z0-9_]+$/.test(size) || allowed.includes(size)) return [];
  return [{ path, message: `VM size "${size.slice(0, 64)}" is not allowed on this platform (settings.vmSizes: ${allowed.join(', ')})` }];
}

/**
 * What the schema's patterns let through but a shell, an env file or a path must not see: "." and
 * ".." segments in sources, control characters and over-long values in environments, long names.
 */
function unsafeValues(raw: unknown): TopologyIssue[] {
  if (!isRecord(raw)) return [];
  const out: TopologyIssue[] = [];
  const sourceIssue = (value: unknown, path: string) => {
    if (typeof value === 'string' && value.split('/').some((s) => s === '.' || s === '..')) {
      out.push({ path, message: 'must not hold a "." or ".." segment: the code folder must stay inside the share' });
    }
  };
  if (isRecord(raw.kafka)) sourceIssue(raw.kafka.source, 'kafka.source');
  const settings = isRecord(raw.settings) ? raw.settings : {};
  const allowed = Array.isArray(settings.vmSizes) && settings.vmSizes.every((v) => typeof v === 'string') ? (settings.vmSizes as string[]) : [...DEFAULT_VM_SIZES];
  (Array.isArray(raw.vms) ? raw.vms : []).forEach((vm, i) => {
    if (isRecord(vm)) out.push(...sizeIssues(vm.size, `vms[${i}].size`, allowed));
  });
  (Array.isArray(raw.services) ? raw.services : []).forEach((svc, i) => {
    if (!isRecord(svc)) return;
    sourceIssue(svc.source, `services[${i}].source`);
    for (const field of ['env', 'secretEnv'] as const) {
      const env = svc[field];
      if (!isRecord(env)) continue;
      for (const [name, value] of Object.entries(env)) {
        const path = formatPath(['services', i, field, name.length > 40 ? `${name.slice(0, 40)}…` : name]);
        if (name.length > MAX_NAME) out.push({ path, message: `the name is ${name.length} characters long; at most ${MAX_NAME} are allowed` });
        if (/[\u0000-\u001f\u007f]/.test(name)) out.push({ path, message: 'the name holds control characters' });
        if (field === 'env' && typeof value === 'string') {
          const issue = envValueIssue(value, MAX_ENV_VALUE);
          if (issue) out.push({ path, message: issue });
        }
        if (field === 'secretEnv' && typeof value === 'string' && value.length > MAX_NAME) {
          out.push({ path, message: `names an app setting of ${value.length} characters; at most ${MAX_NAME} are allowed` });
        }
        // The restart-capable key is the monitoring service's alone; every service gets a registry-only key.
        if (field === 'secretEnv' && value === MONITORING_KEY_SETTING && svc.role !== 'monitoring') {
          out.push({ path, message: `${MONITORING_KEY_SETTING} is the monitoring service's key (it restarts services); other services get a registry-only key as LCM_API_KEY from the LCM: remove this entry` });
        }
      }
    }
  });
  return out;
}

/** The app setting holding the monitoring service's key (functions/settings.ts monitoringKeySetting). */
const MONITORING_KEY_SETTING = 'LCM_MONITORING_API_KEY';

interface LooseService {
  index: number;
  name?: string;
  vm?: string;
  port?: number;
  dependsOn: Array<{ index: number; name: string }>;
  monitoring: boolean;
  replicas: number;
  vms?: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Cross-reference checks run on the raw document, so they report even when other parts are malformed. */
function crossReferences(raw: unknown): TopologyIssue[] {
  if (!isRecord(raw)) return [];
  const out: TopologyIssue[] = [];

  const vmNames = new Map<string, number>();
  (Array.isArray(raw.vms) ? raw.vms : []).forEach((vm, i) => {
    if (!isRecord(vm) || typeof vm.name !== 'string') return;
    if (vmNames.has(vm.name)) {
      out.push({ path: `vms[${i}].name`, message: `duplicate VM name "${vm.name}" (also vms[${vmNames.get(vm.name)}])` });
    } else vmNames.set(vm.name, i);
  });

  const services: LooseService[] = (Array.isArray(raw.services) ? raw.services : []).map((s, index) => {
    const rec = isRecord(s) ? s : {};
    return {
      index,
      name: typeof rec.name === 'string' ? rec.name : undefined,
      vm: typeof rec.vm === 'string' ? rec.vm : undefined,
      port: typeof rec.port === 'number' ? rec.port : undefined,
      dependsOn: (Array.isArray(rec.dependsOn) ? rec.dependsOn : [])
        .map((name, i) => ({ index: i, name }))
        .filter((d): d is { index: number; name: string } => typeof d.name === 'string'),
      monitoring: rec.role === 'monitoring',
      replicas: typeof rec.replicas === 'number' && Number.isInteger(rec.replicas) && rec.replicas >= 1 && rec.replicas <= MAX_REPLICAS ? rec.replicas : 1,
      vms: Array.isArray(rec.vms) && rec.vms.every((v) => typeof v === 'string') ? (rec.vms as string[]) : undefined,
    };
  });

  const kafka = isRecord(raw.kafka) ? raw.kafka : undefined;
  if (kafka && typeof kafka.vm === 'string' && !vmNames.has(kafka.vm)) {
    out.push({ path: 'kafka.vm', message: `unknown VM "${kafka.vm}"${suggest(kafka.vm, [...vmNames.keys()])}` });
  }

  const byName = new Map<string, LooseService>();
  for (const svc of services) {
    if (svc.name === undefined) continue;
    if (svc.name === KAFKA) {
      out.push({ path: `services[${svc.index}].name`, message: `"${KAFKA}" is reserved for the platform's Kafka broker` });
      continue;
    }
    const seen = byName.get(svc.name);
    if (seen) out.push({ path: `services[${svc.index}].name`, message: `duplicate service name "${svc.name}" (also services[${seen.index}])` });
    else byName.set(svc.name, svc);
  }

  // Ports: one listener per VM address and port (Kafka included).
  const ports = new Map<string, string>();
  if (kafka && typeof kafka.vm === 'string') ports.set(`${kafka.vm}:${typeof kafka.port === 'number' ? kafka.port : 9092}`, 'kafka');
  for (const svc of services) {
    if (svc.vm === undefined) continue;
    if (!vmNames.has(svc.vm)) {
      out.push({ path: `services[${svc.index}].vm`, message: `unknown VM "${svc.vm}"${suggest(svc.vm, [...vmNames.keys()])}` });
    }
    (svc.vms ?? []).forEach((vm, i) => {
      if (!vmNames.has(vm)) out.push({ path: `services[${svc.index}].vms[${i}]`, message: `unknown VM "${vm}"${suggest(vm, [...vmNames.keys()])}` });
      else if ((svc.vms ?? []).indexOf(vm) !== i) out.push({ path: `services[${svc.index}].vms[${i}]`, message: `VM "${vm}" is listed twice` });
    });
    if (svc.vms && svc.vms.length > 0 && !svc.vms.includes(svc.vm)) {
      out.push({ path: `services[${svc.index}].vms`, message: `must include the service's vm "${svc.vm}"` });
    }
    if (svc.port === undefined) continue;
    const name = svc.name ? `service "${svc.name}"` : `services[${svc.index}]`;
    // Every replica takes a host port on its VM (platform/replicas.ts): none may collide.
    for (const p of placements({ name: svc.name ?? 'service', vm: svc.vm, vms: svc.vms, port: svc.port, replicas: svc.replicas })) {
      const path = p.replica === 0 ? `services[${svc.index}].port` : `services[${svc.index}].replicas`;
      if (p.port > 65535) {
        out.push({ path, message: `replica ${p.replica + 1} would need port ${p.port} on VM "${p.vm}", above 65535` });
        break;
      }
      const key = `${p.vm}:${p.port}`;
      const holder = ports.get(key);
      if (holder) {
        out.push({ path, message: `port ${p.port} on VM "${p.vm}"${p.replica === 0 ? '' : ` (replica ${p.replica + 1})`} is already used by ${holder}` });
      } else ports.set(key, p.replica === 0 ? name : `${name} (replica ${p.replica + 1})`);
    }
  }

  // Monitoring: at most one, and nothing may wait for it (it starts last).
  const monitors = services.filter((s) => s.monitoring);
  for (const extra of monitors.slice(1)) {
    out.push({
      path: `services[${extra.index}].role`,
      message: `a second monitoring service${extra.name ? ` ("${extra.name}")` : ''}; services[${monitors[0]!.index}]${monitors[0]!.name ? ` ("${monitors[0]!.name}")` : ''} already has the monitoring role`,
    });
  }
  const monitorNames = new Set(monitors.map((m) => m.name).filter((n): n is string => !!n));

  for (const svc of services) {
    for (const dep of svc.dependsOn) {
      const path = `services[${svc.index}].dependsOn[${dep.index}]`;
      if (dep.name === KAFKA) {
        if (!kafka) out.push({ path, message: `depends on "${KAFKA}" but the topology has no kafka section` });
        continue;
      }
      if (!byName.has(dep.name)) {
        out.push({ path, message: `unknown service "${dep.name}"${suggest(dep.name, [...byName.keys(), ...(kafka ? [KAFKA] : [])])}` });
      } else if (monitorNames.has(dep.name)) {
        out.push({ path, message: `cannot depend on the monitoring service "${dep.name}": it starts after every other service` });
      }
    }
  }

  out.push(...cycles(services, byName));
  return out;
}

function cycles(services: LooseService[], byName: Map<string, LooseService>): TopologyIssue[] {
  const out: TopologyIssue[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    const svc = byName.get(name)!;
    for (const dep of svc.dependsOn) {
      if (!byName.has(dep.name)) continue;
      const s = state.get(dep.name);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep.name)), dep.name];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          out.push({
            path: `services[${svc.index}].dependsOn[${dep.index}]`,
            message: cycle.length === 2 ? `service "${name}" depends on itself` : `dependency cycle: ${cycle.join(' -> ')}`,
          });
        }
      } else if (s === undefined) visit(dep.name);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const svc of services) if (svc.name && byName.get(svc.name) === svc && !state.has(svc.name)) visit(svc.name);
  return out;
}

function suggest(name: string, candidates: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function dedupe(issues: TopologyIssue[]): TopologyIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = formatIssue(i);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
