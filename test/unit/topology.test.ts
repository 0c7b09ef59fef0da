import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology } from '../../functions/platform/load.js';
import { validateTopology, validateVmAddition, formatIssue } from '../../functions/platform/validate.js';
import { exampleDocument, minimalDocument } from '../helpers/topology.js';
import { readFileSync } from 'node:fs';
import { EXAMPLE_TOPOLOGY } from '../helpers/topology.js';
import { stringify } from 'yaml';

function errorsOf(doc: unknown): string[] {
  const r = validateTopology(doc);
  if (r.ok) throw new Error('expected the topology to be rejected');
  return r.issues.map(formatIssue);
}

describe('topology validation', () => {
  it('accepts the example platform and applies defaults', () => {
    const t = loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));
    expect(t.vms.map((v) => v.name)).toEqual(['vm-core', 'vm-sensors', 'vm-apps', 'vm-ops']);
    expect(t.services.filter((s) => s.role === 'monitoring').map((s) => s.name)).toEqual(['monitoring']);
    expect(new Set(t.services.map((s) => s.kind))).toEqual(new Set(['microservice', 'app', 'model']));
    expect(t.vms[0]!.adminUser).toBe('azureuser');
    expect(t.services[0]!.health.path).toBe('/health');
    expect(t.kafka!.topics.map((x) => x.name)).toContain('sensor-readings');
  });

  it('names an unknown dependency with its path and a suggestion', () => {
    const doc = exampleDocument();
    doc.services[3].dependsOn = ['kafak'];
    expect(errorsOf(doc)).toContain('services[3].dependsOn[0]: unknown service "kafak" (did you mean "kafka"?)');
  });

  it('names an unknown VM reference for a service and for kafka', () => {
    const doc = minimalDocument();
    doc.services[1].vm = 'vm-b';
    doc.kafka.vm = 'vm-z';
    const errors = errorsOf(doc);
    expect(errors).toContain('services[1].vm: unknown VM "vm-b" (did you mean "vm-a"?)');
    expect(errors).toContain('kafka.vm: unknown VM "vm-z" (did you mean "vm-a"?)');
  });

  it("gives Kafka's broker 5 min to answer unless kafka.startupTimeoutInMs says otherwise, within 10 s..20 min", () => {
    const doc = minimalDocument();
    const parsed = validateTopology(doc);
    expect(parsed.ok && parsed.value.kafka!.startupTimeoutInMs).toBe(300_000);
    doc.kafka.startupTimeoutInMs = 900_000;
    const raised = validateTopology(doc);
    expect(raised.ok && raised.value.kafka!.startupTimeoutInMs).toBe(900_000);
    const bad = (value: unknown) => {
      const d = minimalDocument();
      d.kafka.startupTimeoutInMs = value;
      return errorsOf(d);
    };
    expect(bad(5_000)).toEqual(['kafka.startupTimeoutInMs: must be at least 10000 (10 s)']);
    expect(bad(1_800_000)).toEqual(["kafka.startupTimeoutInMs: must be at most 1200000 (20 min, within the activity's function timeout)"]);
    expect(bad(60_000.5)).toEqual(['kafka.startupTimeoutInMs: must be an integer, got number 60000.5']);
    expect(bad('5m')).toEqual(['kafka.startupTimeoutInMs: must be a number, got string "5m"']);
  });

  it('names a dependency cycle', () => {
    const doc = minimalDocument();
    doc.services[0].dependsOn = ['web'];
    expect(errorsOf(doc)).toEqual(['services[1].dependsOn[0]: dependency cycle: api -> web -> api']);
  });

  it('rejects a service that depends on itself', () => {
    const doc = minimalDocument();
    doc.services[0].dependsOn = ['api'];
    expect(errorsOf(doc)).toEqual(['services[0].dependsOn[0]: service "api" depends on itself']);
  });

  it('rejects two services on one VM and port, and a clash with kafka', () => {
    const doc = minimalDocument();
    doc.services[1].port = 8000;
    doc.services.push({ name: 'clash', kind: 'microservice', vm: 'vm-a', port: 9092, source: 'x' });
    const errors = errorsOf(doc);
    expect(errors).toContain('services[1].port: port 8000 on VM "vm-a" is already used by service "api"');
    expect(errors).toContain('services[2].port: port 9092 on VM "vm-a" is already used by kafka');
  });

  it('allows the same port on two VMs', () => {
    const doc = minimalDocument();
    doc.vms.push({ name: 'vm-b', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' });
    doc.services[1].vm = 'vm-b';
    doc.services[1].port = 8000;
    expect(validateTopology(doc).ok).toBe(true);
  });

  it('rejects names that are not lowercase DNS labels', () => {
    const doc = minimalDocument();
    doc.services[0].name = 'Api; rm -rf /';
    doc.vms[0].name = 'VM_A';
    const errors = errorsOf(doc);
    expect(errors.some((e) => e.startsWith('services[0].name: must be a lowercase DNS label'))).toBe(true);
    expect(errors.some((e) => e.startsWith('vms[0].name: must be a lowercase DNS label'))).toBe(true);
  });

  it('rejects secrets written inline, in env and in place of references', () => {
    const doc = minimalDocument();
    doc.services[0].env = { DB_PASSWORD: 'hunter2', MODE: 'fast' };
    doc.vms[0].adminPassword = 'P@ssw0rd!';
    doc.azure.storage.accountKey = 'abc==';
    const errors = errorsOf(doc);
    expect(errors).toContain(
      'services[0].env.DB_PASSWORD: looks like a secret written inline; move it to secretEnv as DB_PASSWORD: <name of the app setting that holds it>',
    );
    expect(errors.some((e) => e.startsWith('vms[0].adminPassword: a secret written inline where a reference belongs'))).toBe(true);
    expect(errors.some((e) => e.startsWith('azure.storage.accountKey: a secret written inline'))).toBe(true);
    expect(errors.join('\n')).not.toContain('unknown field');
  });

  it('rejects a private key pasted as a reference name', () => {
    const doc = minimalDocument();
    doc.vms[0].sshKeySecret = '-----BEGIN OPENSSH PRIVATE KEY-----\nabc';
    const errors = errorsOf(doc);
    expect(errors.some((e) => e.startsWith('vms[0].sshKeySecret: must be the name of an app setting'))).toBe(true);
  });

  it('accepts secrets referenced through secretEnv', () => {
    const doc = minimalDocument();
    doc.services[0].secretEnv = { DB_PASSWORD: 'API_DB_PASSWORD' };
    expect(validateTopology(doc).ok).toBe(true);
  });

  it('rejects a second monitoring service and dependencies on monitoring', () => {
    const doc = minimalDocument();
    doc.services[0].role = 'monitoring';
    doc.services[1].role = 'monitoring';
    const errors = errorsOf(doc);
    expect(errors).toContain('services[1].role: a second monitoring service ("web"); services[0] ("api") already has the monitoring role');
    expect(errors).toContain('services[1].dependsOn[0]: cannot depend on the monitoring service "api": it starts after every other service');
  });

  it('reports missing fields and wrong types, all at once', () => {
    const doc = minimalDocument();
    delete doc.services[0].port;
    delete doc.vms[0].sshKeySecret;
    doc.services[1].kind = 'daemon';
    doc.services[1].port = '80';
    doc.services.push({ name: 'x', kind: 'app', vm: 'vm-a', port: 70000, source: 'x', dependsOn: ['nope'] });
    const errors = errorsOf(doc);
    expect(errors).toEqual(
      expect.arrayContaining([
        'services[0].port: is required',
        'vms[0].sshKeySecret: is required',
        'services[1].kind: must be one of microservice, app, model',
        'services[1].port: must be a number, got string "80"',
        'services[2].port: must be between 1 and 65535',
        'services[2].dependsOn[0]: unknown service "nope"',
      ]),
    );
  });

  it('reports unknown fields, duplicate names and a reserved name', () => {
    const doc = minimalDocument();
    doc.services[1].replica = 2;
    doc.services.push({ ...doc.services[0], port: 9000 });
    doc.services.push({ name: 'kafka', kind: 'microservice', vm: 'vm-a', port: 9100, source: 'k' });
    const errors = errorsOf(doc);
    expect(errors).toContain('services[1].replica: unknown field');
    expect(errors).toContain('services[2].name: duplicate service name "api" (also services[0])');
    expect(errors).toContain('services[3].name: "kafka" is reserved for the platform\'s Kafka broker');
  });

  it('reports YAML syntax errors with their line', () => {
    const r = parseTopology('name: demo\nvms: [\n  - a\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.path).toMatch(/^line \d+, column \d+$/);
  });

  it('round-trips through YAML', () => {
    const r = parseTopology(stringify(minimalDocument()));
    expect(r.ok).toBe(true);
  });

  it('validates a VM added through the API against the existing topology', () => {
    const t = loadTopology(stringify(minimalDocument()));
    expect(validateVmAddition(t, { name: 'vm-b', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' }).ok).toBe(true);
    const dup = validateVmAddition(t, { name: 'vm-a', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' });
    expect(dup.ok ? [] : dup.issues.map(formatIssue)).toEqual(['name: a VM named "vm-a" already exists']);
    const bad = validateVmAddition(t, { name: 'vm-c', size: 'Standard_B2s', password: 'x' });
    expect(bad.ok ? [] : bad.issues.map(formatIssue)).toEqual(
      expect.arrayContaining(['sshKeySecret: is required', expect.stringMatching(/^password: a secret written inline/)]),
    );
  });
});
