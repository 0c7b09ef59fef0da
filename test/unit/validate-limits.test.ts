/**
 * What validation refuses beyond the schema's shapes, each with its path: "." and ".." segments in
 * sources, control characters and over-long values or names in environments, VM sizes outside the
 * platform's allow-list (in the topology and for a VM added through the API).
 */
import { describe, expect, it } from 'vitest';
import { formatIssue, validateTopology, validateVmAddition } from '../../functions/platform/validate.js';
import { DEFAULT_VM_SIZES } from '../../functions/platform/topology.js';
import { minimalDocument } from '../helpers/topology.js';

function errorsOf(doc: unknown): string[] {
  const r = validateTopology(doc);
  if (r.ok) throw new Error('expected the topology to be rejected');
  return r.issues.map(formatIssue);
}

describe('validation: paths, control characters, lengths, VM sizes', () => {
  it('refuses ".." and "." segments in a service or broker source', () => {
    const doc = minimalDocument();
    doc.services[0].source = '../../etc';
    doc.services[1].source = 'web/./x';
    doc.kafka.source = 'kafka/..';
    const errors = errorsOf(doc);
    expect(errors).toContain('services[0].source: must not hold a "." or ".." segment: the code folder must stay inside the share');
    expect(errors).toContain('services[1].source: must not hold a "." or ".." segment: the code folder must stay inside the share');
    expect(errors).toContain('kafka.source: must not hold a "." or ".." segment: the code folder must stay inside the share');
  });

  it('refuses NUL and line breaks in env values, and over-long values and names, naming each', () => {
    const doc = minimalDocument();
    doc.services[0].env = { NUL: 'a\u0000b', NL: 'line\nEXTRA=1', CR: 'a\rb', LONG: 'x'.repeat(4097), OK: 'x'.repeat(4096), ['N'.repeat(129)]: 'v' };
    const errors = errorsOf(doc);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^services\[0\]\.env\.NUL: must not hold control characters/),
        expect.stringMatching(/^services\[0\]\.env\.NL: must not hold control characters/),
        expect.stringMatching(/^services\[0\]\.env\.CR: must not hold control characters/),
        'services[0].env.LONG: is 4097 characters long; at most 4096 are allowed',
        `services[0].env["${'N'.repeat(40)}…"]: the name is 129 characters long; at most 128 are allowed`,
      ]),
    );
    expect(errors.some((e) => e.startsWith('services[0].env.OK'))).toBe(false);
    expect(errors.join('\n')).not.toContain('EXTRA=1');
  });

  it('refuses a secretEnv reference that is over-long', () => {
    const doc = minimalDocument();
    doc.services[0].secretEnv = { TOKEN: 'S'.repeat(200) };
    expect(errorsOf(doc)).toContain('services[0].secretEnv.TOKEN: names an app setting of 200 characters; at most 128 are allowed');
  });

  it('gives the monitoring key to the monitoring service only', () => {
    const doc = minimalDocument();
    doc.services[0].secretEnv = { LCM_API_KEY: 'LCM_MONITORING_API_KEY' };
    expect(errorsOf(doc)).toContain(
      "services[0].secretEnv.LCM_API_KEY: LCM_MONITORING_API_KEY is the monitoring service's key (it restarts services); other services get a registry-only key as LCM_API_KEY from the LCM: remove this entry",
    );
    // The last to start (nothing depends on it) may be the monitoring service, and hold its key.
    const ok = minimalDocument();
    Object.assign(ok.services[1], { role: 'monitoring', secretEnv: { LCM_API_KEY: 'LCM_MONITORING_API_KEY' } });
    expect(validateTopology(ok).ok).toBe(true);
  });

  it('VM sizes come from settings.vmSizes (a default list of small sizes when absent)', () => {
    const doc = minimalDocument();
    doc.vms[0].size = 'Standard_ND96amsr_A100_v4';
    expect(errorsOf(doc)).toEqual([expect.stringMatching(/^vms\[0\]\.size: VM size "Standard_ND96amsr_A100_v4" is not allowed on this platform \(settings\.vmSizes: Standard_B1s, /)]);
    doc.settings = { vmSizes: ['Standard_ND96amsr_A100_v4'] };
    const ok = validateTopology(doc);
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.value.settings.vmSizes).toEqual(['Standard_ND96amsr_A100_v4']);
    const defaults = validateTopology(minimalDocument());
    if (defaults.ok) expect(defaults.value.settings.vmSizes).toEqual([...DEFAULT_VM_SIZES]);
  });

  it('a VM added through the API must use an allowed size', () => {
    const r = validateTopology(minimalDocument());
    if (!r.ok) throw new Error('minimal topology invalid');
    const added = validateVmAddition(r.value, { name: 'vm-gpu', size: 'Standard_NC24ads_A100_v4', sshKeySecret: 'VM_KEY' });
    expect(added.ok).toBe(false);
    if (!added.ok) expect(added.issues.map(formatIssue)).toEqual([expect.stringMatching(/^size: VM size "Standard_NC24ads_A100_v4" is not allowed/)]);
    expect(validateVmAddition(r.value, { name: 'vm-b', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' }).ok).toBe(true);
  });
});
