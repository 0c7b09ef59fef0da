/**
 * Activities re-check what reaches a shell or a path, whoever called them: a traversal step or
 * source, a control character in an env value, an unsafe image or address is refused by the activity
 * itself, before any adapter runs, with the path of each problem.
 */
import { describe, expect, it } from 'vitest';
import { checkHealth, codeVersions, ensureDocker, pollBuilds, restartContainer, startBuilds, startKafka, startService } from '../../functions/activities/containers.js';
import { ensureVm } from '../../functions/activities/vm.js';
import { sourcePathIssue, UnsafeInputError } from '../../functions/platform/guard.js';

const vm = { name: 'vm-core', host: '10.0.0.4', privateIp: '10.0.0.4', adminUser: 'azureuser', sshKeySecret: 'VM_SSH_PRIVATE_KEY' };
const service = { name: 'sensor-manager', kind: 'microservice' as const, port: 8010, env: { LOG_LEVEL: 'info' }, secretEnv: {}, health: { path: '/health', timeoutInMs: 2000, startupTimeoutInMs: 60000 } };

async function refusal(work: Promise<unknown>): Promise<UnsafeInputError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the activity refused').toBeInstanceOf(UnsafeInputError);
  return err as UnsafeInputError;
}

describe('activities refuse unsafe input themselves', () => {
  it('startBuilds: a ../ step or source is refused, naming the field', async () => {
    const run = 'boot:2026-01-01T00:00:00.000Z';
    const step = await refusal(startBuilds({ vm, run, builds: [{ step: '../../home/other', source: 'sensor-manager' }] }));
    expect(step.issues.map((i) => i.path)).toEqual(['builds[0].step']);
    expect(step.message).toMatch(/^startBuilds: refused unsafe input \(builds\[0\]\.step: must be a lowercase DNS label\); nothing was changed$/);
    for (const source of ['../etc', 'a/../../b', './x', 'a//b', '/abs', '', 'a/..']) {
      const e = await refusal(startBuilds({ vm, run, builds: [{ step: 'sensor-manager', source }] }));
      expect(e.issues.map((i) => i.path), source).toEqual(['builds[0].source']);
    }
  });

  it('codeVersions refuses a traversal folder and a list that is no list', async () => {
    const s = await refusal(codeVersions({ sources: ['sensor-manager', '../etc'] }));
    expect(s.issues.map((i) => i.path)).toEqual(['sources[1]']);
    const n = await refusal(codeVersions({ sources: 'sensor-manager' as unknown as string[] }));
    expect(n.issues.map((i) => i.path)).toEqual(['sources']);
  });

  it('startBuilds and pollBuilds refuse a traversal step or source, a run id that is no token, an unsafe image', async () => {
    const s = await refusal(startBuilds({ vm, run: 'boot:2026-01-01T00:00:00.000Z', builds: [{ step: 'ok', source: 'ok' }, { step: '../x', source: '../etc', version: 'v; rm' }] }));
    expect(s.issues.map((i) => i.path)).toEqual(['builds[1].step', 'builds[1].source', 'builds[1].version']);
    const r = await refusal(startBuilds({ vm, run: "x'; rm -rf ~", builds: [] }));
    expect(r.issues.map((i) => i.path)).toEqual(['run']);
    expect(r.message).toMatch(/^startBuilds: refused unsafe input \(run: must be a run id/);
    const p = await refusal(pollBuilds({ vm, round: 0, builds: [{ step: 'ok', image: 'lcm/ok:v1; reboot', version: 'v1' }] }));
    expect(p.issues.map((i) => i.path)).toEqual(['round', 'builds[0].image']);
  });

  it('a good startBuilds input passes the guard (and fails later, for want of a code share here)', async () => {
    const err = await startBuilds({ vm, run: 'boot:2026-01-01T00:00:00.000Z', builds: [{ step: 'sensor-manager', source: 'sensor-manager' }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(err).not.toBeInstanceOf(UnsafeInputError);
  });

  it('VM access: a host, user or key setting that could reach a command is refused', async () => {
    const e = await refusal(ensureDocker({ vm: { ...vm, host: '10.0.0.4; rm -rf ~', adminUser: 'root -o ProxyCommand=x', sshKeySecret: '../key' } }));
    expect(e.issues.map((i) => i.path)).toEqual(['vm.host', 'vm.adminUser', 'vm.sshKeySecret']);
  });

  it('startService: control characters and over-long env values, bad names, images and health paths', async () => {
    const input = { vm, service, image: 'lcm/sensor-manager:abc123', version: 'abc123', operationId: 'boot' };
    const e = await refusal(
      startService({
        ...input,
        image: 'lcm/x:../y',
        service: { ...service, env: { OK: 'fine', 'BAD NAME': 'x', NL: 'a\nINJECTED=1', NUL: 'a\u0000b', LONG: 'x'.repeat(5000) }, health: { ...service.health, path: '/../admin' } },
      }),
    );
    expect(e.issues.map((i) => i.path).sort()).toEqual(['image', 'service.env.LONG', 'service.env.NL', 'service.env.NUL', 'service.env["BAD NAME"]', 'service.health.path'].sort());
    expect(e.message).not.toContain('INJECTED');
    await refusal(restartContainer({ vm, service: { ...service, name: '../x' } }));
    await refusal(checkHealth({ vm, service: { ...service, port: 0 } }));
  });

  it('startKafka: a topic name or image with a traversal is refused', async () => {
    const e = await refusal(startKafka({ vm, kafka: { port: 9092, topics: [{ name: '..', partitions: 1, replicationFactor: 1 }] }, image: 'lcm/kafka:v1', version: 'v1', operationId: 'boot' }));
    expect(e.issues.map((i) => i.path)).toEqual(['kafka.topics[0].name']);
  });

  it('startKafka: a broker deadline outside 10 s..20 min is refused, naming the field', async () => {
    for (const startupTimeoutInMs of [0, 9_999, 20 * 60_000 + 1, 1.5e5 + 0.5]) {
      const e = await refusal(startKafka({ vm, kafka: { port: 9092, topics: [], startupTimeoutInMs }, image: 'lcm/kafka:v1', version: 'v1', operationId: 'boot' }));
      expect(e.issues).toEqual([{ path: 'kafka.startupTimeoutInMs', message: 'must be a whole number of milliseconds from 10000 to 1200000' }]);
    }
  });

  it('ensureVm: a VM name or admin user that is not a plain name is refused before any ARM call', async () => {
    const azure = { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', location: 'westeurope' };
    const spec = { name: '../vm', size: 'Standard_B2s', adminUser: 'root;id', sshKeySecret: 'VM_SSH_PRIVATE_KEY', image: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' } };
    const e = await refusal(ensureVm({ azure, vm: spec, inboundPorts: [70000] }));
    expect(e.issues.map((i) => i.path)).toEqual(['vm.name', 'vm.adminUser', 'inboundPorts[0]']);
  });

  it('sourcePathIssue accepts plain relative folders', () => {
    for (const ok of ['kafka', 'services/sensor-manager', 'a.b/c_d-e']) expect(sourcePathIssue(ok), ok).toBeUndefined();
  });
});
