/**
 * The boot's image builds under the extension's action processing, against stub activities: builds
 * start detached and are polled between durable timers with growing intervals, each service starts
 * as soon as its own image is built (not when its VM's slowest one is), and a build that fails or
 * outlives its deadline fails its service with the build's name and where to read its log.
 */
import { describe, expect, it } from 'vitest';
import { A, O } from '../../functions/activities/contracts.js';
import { bootGroup } from '../../functions/orchestrations/boot-group.js';
import { bootTick } from '../../functions/orchestrations/boot-tick.js';
import { bootPlatform } from '../../functions/orchestrations/boot-platform.js';
import { bootStep } from '../../functions/orchestrations/boot-step.js';
import { bootVm, type BootVmInput, type BootVmOutput } from '../../functions/orchestrations/boot-vm.js';
import { EventType } from '../../local/host/history.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { minimalDocument } from '../helpers/topology.js';
import { bootActivity, run, type Script } from './driver.js';

const orchestrators = { [O.boot]: bootPlatform, [O.bootGroup]: bootGroup, [O.bootTick]: bootTick, [O.bootVm]: bootVm, [O.bootStep]: bootStep };
const activities = Object.values(A);

/** One VM, no Kafka, two services that do not depend on each other: one builds fast, one slowly. */
function twoServices() {
  const doc = minimalDocument();
  delete doc.kafka;
  doc.services = [
    { name: 'fast', kind: 'microservice', vm: 'vm-a', port: 8000, source: 'fast' },
    { name: 'slow', kind: 'microservice', vm: 'vm-a', port: 8001, source: 'slow' },
  ];
  return assertTopology(doc);
}

const vmInfo = (name: string) => ({ name, publicIp: '10.2.0.4', privateIp: '10.2.0.4', powerState: 'running', created: true, started: true });
const running = (b: { step: string; image: string; version: string }) => ({ step: b.step, state: 'running', image: b.image, version: b.version });
const built = (b: { step: string; image: string; version: string }) => ({ step: b.step, state: 'built', image: { step: b.step, image: b.image, version: b.version, built: true } });

/** The plumbing every boot needs; `builds` decides what startBuilds and pollBuilds answer. */
function script(topology: ReturnType<typeof twoServices>, builds: Script, log: string[]): Script {
  return (name, input, api) => {
    switch (name) {
      case A.readDesiredState:
        return { ok: true, value: { topology } };
      case A.ensureVm:
        return { ok: true, value: vmInfo(input.vm.name) };
      case A.codeVersions:
        return { ok: true, value: input.sources.map((source: string) => ({ source, version: `v-${source}` })) };
      case A.startBuilds:
      case A.pollBuilds:
        return builds(name, input, api);
      case A.startService:
        log.push(`start ${input.service.name}`);
        return { ok: true, value: { service: input.service.name, kind: input.service.kind, vm: input.vm.name, host: input.vm.host, port: input.service.port, status: 'running', startedAt: 't', action: 'created' } };
      case A.startInstances:
      case A.notifyInstance:
      case A.endedInstances:
      case A.groupsSettled:
      case A.prepareBoot:
      case A.summarizeBoot:
        return bootActivity(name, input, api, topology)!;
      default:
        return { ok: true, value: null };
    }
  };
}

describe('conformance: the boot\'s builds run detached and are polled', () => {
  for (const seed of [1, 2, 3]) {
    it(`a service starts while its VM's slower image is still building (seed ${seed})`, async () => {
      const topology = twoServices();
      const log: string[] = [];
      // The slow build finishes only once the fast service has started: a boot that waits for every
      // image of the VM before starting any never sees it done, and fails it at the build deadline.
      const builds: Script = (name, input) => {
        if (name === A.startBuilds) return { ok: true, value: input.builds.map((b: { step: string; source: string; version: string }) => running({ step: b.step, image: `lcm/${b.step}:${b.version}`, version: b.version })) };
        log.push(`poll ${input.builds.map((b: { step: string }) => b.step).join(',')}`);
        return { ok: true, value: input.builds.map((b: { step: string; image: string; version: string }) => (b.step === 'fast' || log.includes('start fast') ? built(b) : running(b))) };
      };
      const r = await run({ orchestrators, activities, script: script(topology, builds, log), root: { name: O.boot, id: 'boot', input: {} }, seed, maxBatch: 2 });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      const out = r.instances.get('boot')!.output as { status: string; services: Array<{ name: string; status: string }> };
      expect(out.status).toBe('succeeded');
      expect(out.services.map((s) => [s.name, s.status])).toEqual([['fast', 'running'], ['slow', 'running']]);
      // fast started between a poll that still saw slow building and the one that saw it built.
      const startedAt = log.indexOf('start fast');
      expect(log.slice(0, startedAt)).toContain('poll fast,slow');
      expect(log.slice(startedAt + 1)).toContain('poll slow');
      expect(log.indexOf('start slow')).toBeGreaterThan(startedAt);
    });
  }

  it('polls with growing intervals up to a cap, and fails a build that outlives its deadline naming it and its log', async () => {
    const input: BootVmInput = {
      azure: { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', location: 'westeurope' },
      vm: twoServices().vms[0]!,
      steps: [
        { step: 'stuck', source: 'stuck', version: 'v1' },
        { step: 'broken', source: 'broken', version: 'v1' },
      ],
      buildTimeoutInMs: 60_000,
    };
    let polls = 0;
    const builds: Script = (name, i) => {
      if (name === A.startBuilds) return { ok: true, value: i.builds.map((b: { step: string; version: string }) => running({ step: b.step, image: `lcm/${b.step}:${b.version}`, version: b.version })) };
      polls++;
      return {
        ok: true,
        value: i.builds.map((b: { step: string; image: string; version: string }) =>
          b.step === 'broken' && polls >= 3 ? { step: 'broken', state: 'failed', reason: `the fetch and build of ${b.image} exited 2; its log is ~/.lcm/logs/build-lcm_broken_v1.log on the VM` } : running(b),
        ),
      };
    };
    const r = await run({ orchestrators, activities, script: script(twoServices(), builds, []), root: { name: O.bootVm, id: 'boot-vm-vm-a', input }, seed: 7 });
    expect(r.problems).toEqual([]);
    const inst = r.instances.get('boot-vm-vm-a')!;
    expect(inst.status).toBe('Completed');
    const out = inst.output as Extract<BootVmOutput, { ok: true }>;
    expect(out.ok).toBe(true);
    expect(out.building).toBeUndefined();
    expect(out.images).toEqual([
      { step: 'broken', ok: false, reason: 'the fetch and build of lcm/broken:v1 exited 2; its log is ~/.lcm/logs/build-lcm_broken_v1.log on the VM' },
      {
        step: 'stuck',
        ok: false,
        reason: 'the build of lcm/stuck:v1 on VM "vm-a" did not finish within 1 min; read its log with `bootstrap-cli logs stuck --build`',
      },
    ]);
    // Each timer waits longer than the last (1 s growing ×1.5, capped at 10 s), the last one cut at the deadline.
    const delays = inst.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => new Date(e.FireAt!).getTime() - new Date(e.Timestamp).getTime());
    expect(delays.slice(0, 7)).toEqual([1_000, 1_500, 2_250, 3_375, 5_063, 7_595, 10_000]);
    expect(Math.max(...delays)).toBe(10_000);
    // A minute of polling costs a handful of polls, not one a second; the last poll ran after the deadline's timer.
    expect(polls).toBe(delays.length);
    expect(polls).toBeLessThanOrEqual(10);
  });
});
