/**
 * The fields the desired-state editor shows for a draft, by their issue path: what an issue can be
 * shown at (see issues.ts). Kept beside the form's layout in pages/editor.tsx.
 */
import { formatPath } from '../../../functions/platform/validate.js';

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const SERVICE_FIELDS = ['name', 'kind', 'vm', 'port', 'replicas', 'vms', 'source', 'env', 'secretEnv', 'dependsOn', 'health.path', 'health.timeoutInMs', 'health.startupTimeoutInMs', 'role'];
export const VM_FIELDS = ['name', 'size', 'adminUser', 'sshKeySecret'];
export const SETTINGS_FIELDS = [
  'settings.vmSizes',
  'settings.restart.initialBackoffInMs',
  'settings.restart.maxBackoffInMs',
  'settings.restart.resetAfterInMs',
  'settings.restart.maxFailures',
  'settings.watchdog.intervalInMs',
  'settings.watchdog.failuresBeforeRestart',
];

export function formFields(draft: unknown): Set<string> {
  const d = obj(draft);
  const out = new Set<string>(['name', 'vms', 'services', 'settings', ...SETTINGS_FIELDS]);
  arr(d.vms).forEach((_, i) => {
    out.add(`vms[${i}]`);
    for (const f of VM_FIELDS) out.add(`vms[${i}].${f}`);
  });
  if (d.kafka !== undefined) for (const f of ['kafka', 'kafka.vm', 'kafka.port', 'kafka.topics']) out.add(f);
  arr(obj(d.kafka).topics).forEach((_, i) => {
    out.add(`kafka.topics[${i}].name`);
    out.add(`kafka.topics[${i}].partitions`);
  });
  arr(d.services).forEach((s, i) => {
    out.add(`services[${i}]`);
    for (const f of SERVICE_FIELDS) out.add(`services[${i}].${f}`);
    for (const key of Object.keys(obj(obj(s).env))) out.add(formatPath(['services', i, 'env', key]));
    for (const key of Object.keys(obj(obj(s).secretEnv))) out.add(formatPath(['services', i, 'secretEnv', key]));
  });
  return out;
}

/** The DOM id of a field (paths hold "[", "]", "." and quotes). */
export const fieldId = (path: string): string => `f-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
