/**
 * The one re-check of what reaches a shell command, a container, an env file or a file path on a VM,
 * run by every activity on its own input whoever called it (an orchestration started through the
 * API, a boot, or anyone holding a key to the durable API). The topology and the API validate first;
 * this guard makes the activity safe even when they were bypassed. Pure: no I/O.
 */
import { DNS_LABEL, SETTING_NAME } from './topology.js';

/** Longest value accepted for one environment variable (Linux allows more; no service needs it). */
export const MAX_ENV_VALUE = 4096;
/** Longest secret value (read from a setting at run time) written to a container's env file. */
export const MAX_SECRET_VALUE = 8192;
/** Longest env or setting name. */
export const MAX_NAME = 128;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SOURCE_SEGMENT = /^[A-Za-z0-9._-]+$/;
const HEALTH_PATH = /^\/[A-Za-z0-9._~/-]*$/;
const LINUX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const IMAGE = /^[a-z0-9][a-z0-9._/-]{0,127}:[A-Za-z0-9_.-]{1,128}$/;
const VERSION = /^[A-Za-z0-9_.-]{1,128}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** NUL, line breaks and the other C0 controls (tab allowed) and DEL: they split env files and commands. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export interface GuardIssue {
  path: string;
  message: string;
}

export class UnsafeInputError extends Error {
  readonly issues: GuardIssue[];
  constructor(what: string, issues: GuardIssue[]) {
    super(`${what}: refused unsafe input (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); nothing was changed`);
    this.name = 'UnsafeInputError';
    this.issues = issues;
  }
}

/** Collects issues for one input; `done(what)` throws when there are any. */
export class Guard {
  readonly issues: GuardIssue[] = [];

  private check(path: string, value: unknown, ok: (v: string) => boolean, message: string): this {
    if (typeof value !== 'string' || !ok(value)) this.issues.push({ path, message });
    return this;
  }

  name(path: string, value: unknown): this {
    return this.check(path, value, (v) => DNS_LABEL.test(v), 'must be a lowercase DNS label');
  }

  /** A folder in the code share: relative, no empty, "." or ".." segment. */
  sourcePath(path: string, value: unknown): this {
    const issue = sourcePathIssue(value);
    if (issue) this.issues.push({ path, message: issue });
    return this;
  }

  envName(path: string, value: unknown): this {
    return this.check(path, value, (v) => v.length <= MAX_NAME && ENV_NAME.test(v), `must be an environment variable name of at most ${MAX_NAME} characters`);
  }

  settingName(path: string, value: unknown): this {
    return this.check(path, value, (v) => v.length <= MAX_NAME && SETTING_NAME.test(v), `must be an app setting name of at most ${MAX_NAME} characters`);
  }

  /** A value bound for an env file or a `-e` argument: no control character, bounded length. */
  envValue(path: string, value: unknown, max = MAX_ENV_VALUE): this {
    const issue = envValueIssue(value, max);
    if (issue) this.issues.push({ path, message: issue });
    return this;
  }

  port(path: string, value: unknown): this {
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) this.issues.push({ path, message: 'must be a port (1-65535)' });
    return this;
  }

  healthPath(path: string, value: unknown): this {
    return this.check(path, value, (v) => v.length <= 512 && HEALTH_PATH.test(v) && !v.split('/').some((s) => s === '..'), 'must be an absolute URL path such as /health');
  }

  user(path: string, value: unknown): this {
    return this.check(path, value, (v) => LINUX_USER.test(v), 'must be a Linux user name');
  }

  host(path: string, value: unknown): this {
    return this.check(path, value, (v) => IPV4.test(v) || HOSTNAME.test(v), 'must be an IPv4 address or a host name');
  }

  image(path: string, value: unknown): this {
    return this.check(path, value, (v) => IMAGE.test(v) && !v.split(/[/:]/).includes('..'), 'must be an image reference like lcm/name:tag');
  }

  version(path: string, value: unknown): this {
    return this.check(path, value, (v) => VERSION.test(v) && v !== '.' && v !== '..', 'must be a version tag (letters, digits, ".", "_", "-")');
  }

  topic(path: string, value: unknown): this {
    return this.check(path, value, (v) => TOPIC.test(v) && v !== '.' && v !== '..', 'must be a Kafka topic name');
  }

  done(what: string): void {
    if (this.issues.length > 0) throw new UnsafeInputError(what, this.issues);
  }
}

export function sourcePathIssue(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) return 'must be a relative path inside the share (at most 512 characters)';
  const segments = value.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return 'must not hold a "." or ".." segment: it must stay inside the share';
  if (!segments.every((s) => SOURCE_SEGMENT.test(s))) return 'must be a relative path inside the share (letters, digits, ".", "_", "-", separated by "/")';
  return undefined;
}

export function envValueIssue(value: unknown, max = MAX_ENV_VALUE): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (CONTROL.test(value)) return 'must not hold control characters (NUL, line breaks): they would split the env file or the command';
  if (value.length > max) return `is ${value.length} characters long; at most ${max} are allowed`;
  return undefined;
}

/** Where an activity reaches a VM: name, address, user and the setting naming its key. */
export function guardVmAccess(g: Guard, vm: { name?: unknown; host?: unknown; privateIp?: unknown; adminUser?: unknown; sshKeySecret?: unknown } | undefined, path = 'vm'): Guard {
  if (!vm || typeof vm !== 'object') {
    g.issues.push({ path, message: 'is required' });
    return g;
  }
  return g
    .name(`${path}.name`, vm.name)
    .host(`${path}.host`, vm.host)
    .host(`${path}.privateIp`, vm.privateIp)
    .user(`${path}.adminUser`, vm.adminUser)
    .settingName(`${path}.sshKeySecret`, vm.sshKeySecret);
}

/** A service as activities run it: name, port, environment (names and values), secret references, health path. */
export function guardServiceRuntime(
  g: Guard,
  service: { name?: unknown; port?: unknown; env?: unknown; secretEnv?: unknown; health?: { path?: unknown } } | undefined,
  path = 'service',
): Guard {
  if (!service || typeof service !== 'object') {
    g.issues.push({ path, message: 'is required' });
    return g;
  }
  g.name(`${path}.name`, service.name).port(`${path}.port`, service.port).healthPath(`${path}.health.path`, service.health?.path);
  const env = (service.env ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(env)) {
    g.envName(`${path}.env[${JSON.stringify(k.slice(0, 40))}]`, k);
    g.envValue(`${path}.env.${k.slice(0, 40)}`, typeof v === 'number' || typeof v === 'boolean' ? String(v) : v);
  }
  for (const [k, v] of Object.entries((service.secretEnv ?? {}) as Record<string, unknown>)) {
    g.envName(`${path}.secretEnv[${JSON.stringify(k.slice(0, 40))}]`, k);
    g.settingName(`${path}.secretEnv.${k.slice(0, 40)}`, v);
  }
  return g;
}
