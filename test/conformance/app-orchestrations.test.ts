/**
 * The app's own orchestrations under the extension's action processing (local/host/shim.ts), with
 * scripted activity outcomes completing in many orders: each activity and sub-orchestration is
 * scheduled once, every open SDK task carries the id the extension gave it, and the outcome does not
 * depend on the order.
 */
import { describe, expect, it } from 'vitest';
import { A, O } from '../../functions/activities/contracts.js';
import { bootGroup } from '../../functions/orchestrations/boot-group.js';
import { bootTick } from '../../functions/orchestrations/boot-tick.js';
import { bootPlatform } from '../../functions/orchestrations/boot-platform.js';
import { bootStep } from '../../functions/orchestrations/boot-step.js';
import { bootVm } from '../../functions/orchestrations/boot-vm.js';
import { restartService } from '../../functions/orchestrations/restart-service.js';
import { initVm, provisionVm, restartVm } from '../../functions/orchestrations/vm-operations.js';
import { watchdog } from '../../functions/orchestrations/watchdog.js';
import { buildImages } from '../../functions/orchestrations/build-images.js';
import { assertTopology } from '../../functions/platform/validate.js';
import type { Topology } from '../../functions/platform/topology.js';
import { exampleDocument } from '../helpers/topology.js';
import { bootActivity, run, type Script } from './driver.js';

const orchestrators = {
  [O.boot]: bootPlatform,
  [O.bootGroup]: bootGroup,
  [O.bootTick]: bootTick,
  [O.bootVm]: bootVm,
  [O.bootStep]: bootStep,
  [O.restartVm]: restartVm,
  [O.provisionVm]: provisionVm,
  [O.initVm]: initVm,
  [O.restartService]: restartService,
  [O.watchdog]: watchdog,
  [O.buildImages]: buildImages,
};
const activities = Object.values(A);

const topology: Topology = assertTopology(exampleDocument());
const ipOf = (vm: string) => `10.1.0.${topology.vms.findIndex((v) => v.name === vm) + 10}`;
// Two services nothing depends on: one whose image build fails, one whose start fails.
const leaves = topology.services.filter((s) => s.role !== 'monitoring' && !topology.services.some((o) => o.dependsOn?.includes(s.name)));
const buildFails = leaves[0]!.name;
const startFails = leaves[1]!.name;

/** Polls seen per step (reset before each run). */
const polls = new Map<string, number>();
const script: Script = (name, input, api) => {
  switch (name) {
    case A.readDesiredState:
      return { ok: true, value: { topology } };
    case A.ensureVm:
    case A.restartVm:
      return { ok: true, value: { name: input.vm.name, publicIp: ipOf(input.vm.name), privateIp: ipOf(input.vm.name), powerState: 'running', created: true, started: true } };
    case A.ensureDocker:
      return { ok: true, value: { vm: input.vm.name, installed: false } };
    case A.codeVersions:
      return { ok: true, value: input.sources.map((source: string) => ({ source, version: `v-${source}` })) };
    case A.startBuilds:
      // Builds start detached: every one runs on, but the one that fails at once.
      return {
        ok: true,
        value: input.builds.map((b: { step: string; source: string; version?: string }) => {
          if (b.step === buildFails) return { step: b.step, state: 'failed', reason: 'the fetch and build of img exited 1' };
          // The boot computes each folder's version once and hands it to every build (other callers leave it out).
          if (b.version !== undefined && b.version !== `v-${b.source}`) return { step: b.step, state: 'failed', reason: `startBuilds of ${b.step} got version ${b.version}` };
          return { step: b.step, state: 'running', image: `img-${b.step}`, version: b.version };
        }),
      };
    case A.pollBuilds:
      // Each build is seen done after a number of polls of its own (1 to 3), whatever the order.
      return {
        ok: true,
        value: input.builds.map((b: { step: string; image: string; version: string }) => {
          const seen = (polls.get(b.step) ?? 0) + 1;
          polls.set(b.step, seen);
          return seen >= 1 + (b.step.length % 3) ? { step: b.step, state: 'built', image: { step: b.step, image: b.image, version: b.version, built: true } } : { step: b.step, state: 'running', image: b.image, version: b.version };
        }),
      };
    case A.startService:
      if (input.service.name === startFails) return { ok: false, error: 'health check timed out' };
      return { ok: true, value: { service: input.service.name, kind: input.service.kind, vm: input.vm.name, host: input.vm.host, port: input.service.port, status: 'running', startedAt: 't', action: 'created' } };
    case A.startKafka:
      return { ok: true, value: { service: 'kafka', kind: 'broker', vm: input.vm.name, host: input.vm.host, port: input.kafka.port, status: 'running', startedAt: 't', action: 'created' } };
    case A.startInstances:
    case A.notifyInstance:
    case A.endedInstances:
    case A.groupsSettled:
    case A.prepareBoot:
    case A.summarizeBoot:
      return bootActivity(name, input, api, topology)!;
    case A.startWatchdog:
      return { ok: true, value: { started: true } };
    default:
      return { ok: true, value: null };
  }
};

/**
 * A service (not monitoring) on a VM other than Kafka's (and monitoring's, with `besidesMonitoring`)
 * that a service on another VM depends on, and that dependent: with each VM its own group, word of
 * the first goes from group to group.
 */
function acrossVms(besidesMonitoring = false): { upstream: Topology['services'][number]; downstream: Topology['services'][number] } {
  const monitoringVm = topology.services.find((s) => s.role === 'monitoring')!.vm;
  const upstream = topology.services.find(
    (s) => s.role !== 'monitoring' && s.vm !== topology.kafka!.vm && !(besidesMonitoring && s.vm === monitoringVm) && topology.services.some((o) => o.vm !== s.vm && o.dependsOn?.includes(s.name)),
  )!;
  return { upstream, downstream: topology.services.find((o) => o.vm !== upstream.vm && o.dependsOn?.includes(upstream.name))! };
}
/** The group of a VM when each VM is its own group. */
const groupOf = (vm: string) => `boot-group-${topology.vms.findIndex((v) => v.name === vm)}`;
/** A boot with each VM its own group (groupVms 1), so each dependency across VMs goes from group to group. */
const bootEachVmAGroup = (opts: { seed: number; script: Script; maxSteps?: number }) =>
  run({ orchestrators, activities, root: { name: O.boot, id: 'boot', input: { requestedBy: 'test', groupVms: 1 } }, maxBatch: 3, maxSteps: 4_000, ...opts });

describe('conformance: the boot under the extension\'s action processing', () => {
  // groupVms 1: every VM its own group, so each dependency across VMs goes from group to group.
  const orders = [
    { seed: 1, maxBatch: 1 },
    { seed: 2, maxBatch: 1, groupVms: 1 },
    { seed: 3, maxBatch: 3 },
    { seed: 4, maxBatch: 3, groupVms: 2 },
    { seed: 5, maxBatch: 8, groupVms: 1 },
    { seed: 6, maxBatch: 40 },
  ];
  let reference: unknown;
  for (const { groupVms, ...order } of orders) {
    const groups = groupVms ? Math.ceil(topology.vms.length / groupVms) : 1;
    it(`schedules each piece of work once and routes every result (seed ${order.seed}, up to ${order.maxBatch} completions per replay, ${groups} group(s))`, async () => {
      polls.clear();
      const input = { requestedBy: 'test', ...(groupVms ? { groupVms } : {}) };
      const r = await run({ orchestrators, activities, script, root: { name: O.boot, id: 'boot', input }, ...order });
      expect(r.problems).toEqual([]);
      const twice = [...r.scheduled].filter(([, n]) => n > 1);
      expect(twice).toEqual([]);
      const boot = r.instances.get('boot')!;
      expect(boot.status).toBe('Completed');
      const out = boot.output as { status: string; services: Array<{ name: string; vm: string; status: string; host?: string; port?: number }> };
      expect(out.status).toBe('partial');
      // Each service that runs has the address its own start returned (a misrouted result would not).
      for (const s of out.services.filter((x) => x.status === 'running')) {
        const port = s.name === 'kafka' ? topology.kafka!.port : topology.services.find((x) => x.name === s.name)!.port;
        expect({ name: s.name, host: s.host, port: s.port }).toEqual({ name: s.name, host: ipOf(s.vm), port });
      }
      expect(out.services.find((s) => s.name === buildFails)?.status).toBe('failed');
      expect(out.services.find((s) => s.name === startFails)?.status).toBe('failed');
      expect(out.services.filter((s) => s.status === 'running').length).toBeGreaterThan(1);
      // Prepared once (desired state, versions, groups), and every build was handed its folder's version.
      expect([...r.scheduled].filter(([k]) => k.split('|')[1] === A.prepareBoot).map(([, n]) => n)).toEqual([1]);
      for (let g = 0; g < groups; g++) expect(r.instances.get(`boot-group-${g}`)?.status).toBe('Completed');
      expect(r.instances.has(`boot-group-${groups}`)).toBe(false);
      const builds = [...r.scheduled.keys()].filter((k) => k.split('|')[1] === A.startBuilds).flatMap((k) => JSON.parse(k.split('|').slice(2).join('|')).builds);
      expect(builds.length).toBe(topology.services.length + 1);
      for (const b of builds) expect(b.version).toBe(`v-${b.source}`);
      // Progress: the last episode's custom status names every step (the loop skips building it while replaying).
      expect((boot.customStatus as { phase?: string; services?: Record<string, string[]> }).phase).toBe('finished');
      // Every VM and step ran once, in its own instance.
      for (const vm of topology.vms) expect(r.instances.get(`boot-vm-${vm.name}`)?.status).toBe('Completed');
      // The outcome is the same whatever the order and however the VMs are grouped.
      reference ??= out;
      expect(out).toEqual(reference);
    });
  }
});

describe('conformance: the other operations under the extension\'s action processing', () => {
  const vm = topology.kafka!.vm;
  for (const seed of [11, 12, 13]) {
    it(`restartVm schedules each image build and start once (seed ${seed})`, async () => {
      const r = await run({ orchestrators, activities, script, root: { name: O.restartVm, id: `restart-vm-${vm}`, input: { vm, requestedBy: 'test' } }, seed, maxBatch: 4 });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      const inst = r.instances.get(`restart-vm-${vm}`)!;
      expect(inst.status).toBe('Completed');
      const services = (inst.output as { services: Array<{ name: string; ok: boolean }> }).services;
      expect(services.find((s) => s.name === 'kafka')).toEqual({ name: 'kafka', ok: true });
    });
  }

  it('the watchdog starts a restart through an activity (never a sub-orchestration under the restart\'s id)', async () => {
    const service = topology.services.find((s) => s.role === 'monitoring')!;
    const input = {
      service: { name: service.name, kind: service.kind, port: service.port, env: service.env, secretEnv: service.secretEnv, health: service.health },
      vm: { name: service.vm, host: ipOf(service.vm), privateIp: ipOf(service.vm), adminUser: 'azureuser', sshKeySecret: 'K' },
      intervalInMs: 1000,
      failuresBeforeRestart: 1,
    };
    const restarts: unknown[] = [];
    const r = await run({
      orchestrators,
      activities,
      script: (name, i, api) => {
        if (name === A.checkHealth) return { ok: true, value: { service: service.name, healthy: false, running: false } };
        if (name === A.startRestart) return (restarts.push(i), { ok: true, value: { instanceId: 'restart-svc-x', started: true } });
        return script(name, i, api);
      },
      root: { name: O.watchdog, id: 'watchdog', input },
      seed: 21,
    });
    expect(r.problems).toEqual([]);
    expect(r.instances.get('watchdog')!.status).toBe('ContinuedAsNew');
    expect(restarts).toHaveLength(1);
    expect([...r.instances.keys()]).toEqual(['watchdog']);
  });

  it('the watchdog checks the monitoring service where it runs now (moved), and ends when the desired state drops it', async () => {
    const service = topology.services.find((s) => s.role === 'monitoring')!;
    const spec = { name: service.name, kind: service.kind, port: service.port, env: service.env, secretEnv: service.secretEnv, health: service.health };
    const input = {
      service: spec,
      vm: { name: service.vm, host: ipOf(service.vm), privateIp: ipOf(service.vm), adminUser: 'azureuser', sshKeySecret: 'K' },
      intervalInMs: 1000,
      failuresBeforeRestart: 3,
    };
    const moved = { name: 'vm-core', host: ipOf('vm-core'), privateIp: ipOf('vm-core'), adminUser: 'azureuser', sshKeySecret: 'K' };
    const checked: string[] = [];
    const followed = await run({
      orchestrators,
      activities,
      script: (name, i, api) => {
        if (name === A.locateService) return { ok: true, value: { state: 'found', service: { ...spec, port: 8199 }, vm: moved } };
        if (name === A.checkHealth) return (checked.push(`${i.vm.name}:${i.service.port}`), { ok: true, value: { service: service.name, healthy: true, running: true } });
        return script(name, i, api);
      },
      root: { name: O.watchdog, id: 'watchdog', input },
      seed: 22,
    });
    expect(followed.problems).toEqual([]);
    expect(followed.instances.get('watchdog')!.status).toBe('ContinuedAsNew');
    expect(checked).toEqual(['vm-core:8199']);

    checked.length = 0;
    const dropped = await run({
      orchestrators,
      activities,
      script: (name, i, api) => {
        if (name === A.locateService) return { ok: true, value: { state: 'removed', reason: `"${service.name}" is not in the desired state` } };
        if (name === A.checkHealth) return (checked.push(i.vm.name), { ok: true, value: { service: service.name, healthy: true, running: true } });
        return script(name, i, api);
      },
      root: { name: O.watchdog, id: 'watchdog', input },
      seed: 23,
    });
    expect(dropped.problems).toEqual([]);
    expect(dropped.instances.get('watchdog')).toMatchObject({ status: 'Completed', output: { stopped: `"${service.name}" is not in the desired state` } });
    expect(checked).toEqual([]);
  });
});

/** A re-boot's stubs: the VM was there and running; every image it asks for is built. */
const vmThere = (input: any) => ({ ok: true as const, value: { name: input.vm.name, publicIp: ipOf(input.vm.name), privateIp: ipOf(input.vm.name), powerState: 'running', created: false, started: false } });
const allBuilt = (input: any) => ({ ok: true as const, value: input.builds.map((b: { step: string; version: string }) => ({ step: b.step, state: 'built', image: { step: b.step, image: `img-${b.step}`, version: b.version, built: false } })) });

describe('conformance: a healthy re-boot adopts what already runs as wanted', () => {
  // Every VM was there and every image built; every service runs as wanted but one with dependents.
  const notAdopted = 'sensor-manager';
  const calls: string[] = [];
  const reboot: Script = (name, input, api) => {
    switch (name) {
      case A.ensureVm:
        return vmThere(input);
      case A.startBuilds:
        calls.push(...input.builds.map((b: { step: string }) => `build ${b.step} on ${input.vm.name}`));
        return allBuilt(input);
      case A.adoptServices: {
        calls.push(`adopt ${input.services.map((s: { service: { name: string } }) => s.service.name).join(',')}`);
        const found = input.services.filter((s: { service: { name: string } }) => s.service.name !== notAdopted);
        return { ok: true, value: found.map((s: { service: { name: string; kind: string; port: number } }) => ({ service: s.service.name, kind: s.service.kind, vm: input.vm.name, host: input.vm.privateIp, port: s.service.port, status: 'running', startedAt: 'before', action: 'none' })) };
      }
      case A.startService:
        calls.push(`start ${input.service.name}`);
        return { ok: true, value: { service: input.service.name, kind: input.service.kind, vm: input.vm.name, host: input.vm.host, port: input.service.port, status: 'running', startedAt: 't', action: 'none' } };
      case A.startKafka:
        calls.push('start kafka');
        return { ok: true, value: { service: 'kafka', kind: 'broker', vm: input.vm.name, host: input.vm.host, port: input.kafka.port, status: 'running', startedAt: 't', action: 'none' } };
      case A.startWatchdog:
        calls.push(`watch ${input.service.name} on ${input.vm.name}`);
        return { ok: true, value: { started: true } };
      default:
        return script(name, input, api);
    }
  };

  let reference: unknown;
  for (const { seed, maxBatch, groupVms } of [
    { seed: 11, maxBatch: 1 },
    { seed: 12, maxBatch: 3, groupVms: 1 },
    { seed: 13, maxBatch: 40, groupVms: 2 },
  ]) {
    it(`starts only what does not run as wanted, after its dependencies; monitoring is watched, not started (seed ${seed})`, async () => {
      calls.length = 0;
      const input = { requestedBy: 'test', ...(groupVms ? { groupVms } : {}) };
      const r = await run({ orchestrators, activities, script: reboot, root: { name: O.boot, id: 'boot', input }, seed, maxBatch });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      const boot = r.instances.get('boot')!;
      expect(boot.status).toBe('Completed');
      const out = boot.output as { status: string; services: Array<{ name: string; status: string; host?: string }> };
      expect(out.status).toBe('succeeded');
      expect(out.services.filter((s) => s.status !== 'running')).toEqual([]);
      // Each VM with services was asked once about all of them (Kafka aside: it starts its topics anyway).
      const asked = calls.filter((c) => c.startsWith('adopt ')).flatMap((c) => c.slice('adopt '.length).split(','));
      expect(asked.sort()).toEqual(topology.services.map((s) => s.name).sort());
      // Only Kafka and the one service not found as wanted are started, that one after Kafka.
      expect(calls.filter((c) => c.startsWith('start ')).sort()).toEqual(['start kafka', `start ${notAdopted}`]);
      expect(calls.indexOf('start kafka')).toBeLessThan(calls.indexOf(`start ${notAdopted}`));
      // What runs as wanted runs its image: on a VM whose every step may be adopted, only the
      // image of the one not adopted is asked for, after the look. Kafka's VM starts its builds
      // as soon as Docker answers, as on a first boot, without waiting for the look.
      const kafkaVm = topology.kafka!.vm;
      const builds = calls.filter((c) => c.startsWith('build '));
      const wanted = [`build kafka on ${kafkaVm}`, ...topology.services.filter((s) => s.vm === kafkaVm || s.name === notAdopted).map((s) => `build ${s.name} on ${s.vm}`)];
      expect(builds.sort()).toEqual([...new Set(wanted)].sort());
      expect(topology.services.find((s) => s.name === notAdopted)!.vm).not.toBe(kafkaVm);
      const monitoring = topology.services.find((s) => s.role === 'monitoring')!;
      expect(r.instances.has(`boot-step-${monitoring.name}`)).toBe(false);
      expect(calls).toContain(`watch ${monitoring.name} on ${monitoring.vm}`);
      reference ??= out;
      expect(out).toEqual(reference);
    });
  }
});

describe('conformance: on a re-boot Kafka does not wait for its VM\'s look', () => {
  it('starts Kafka while the look at the other services on its VM still runs; those are adopted when it answers, not started', async () => {
    const kafkaVm = topology.kafka!.vm;
    const order: string[] = [];
    const adoptAll: Script = (name, input, api) => {
      switch (name) {
        case A.ensureVm:
          return vmThere(input);
        case A.startBuilds:
          return allBuilt(input);
        case A.adoptServices:
          // The look on Kafka's VM answers only once Kafka has started.
          if (input.vm.name === kafkaVm && !order.includes('start kafka')) return { later: true };
          order.push(`look ${input.vm.name}`);
          return { ok: true, value: input.services.map((s: { service: { name: string; kind: string; port: number } }) => ({ service: s.service.name, kind: s.service.kind, vm: input.vm.name, host: input.vm.privateIp, port: s.service.port, status: 'running', startedAt: 'before', action: 'none' })) };
        case A.startKafka:
          order.push('start kafka');
          return script(name, input, api);
        case A.startService:
          order.push(`start ${input.service.name}`);
          return script(name, input, api);
        default:
          return script(name, input, api);
      }
    };
    for (const seed of [41, 42]) {
      order.length = 0;
      const r = await run({ orchestrators, activities, script: adoptAll, root: { name: O.boot, id: 'boot', input: { requestedBy: 'test' } }, seed, maxBatch: 2 });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      const out = r.instances.get('boot')!.output as { status: string };
      expect(out.status).toBe('succeeded');
      expect(order.filter((c) => c.startsWith('start '))).toEqual(['start kafka']);
      expect(order.indexOf('start kafka')).toBeLessThan(order.indexOf(`look ${kafkaVm}`));
    }
  });
});

describe('conformance: a re-boot whose VM looked healthy but whose Docker fails', () => {
  it('fails that VM at its Docker step, blocks what it hosts, corrects its record, and starts nothing there', async () => {
    const kafkaVm = topology.kafka!.vm;
    const broken = topology.services.find((s) => s.vm !== kafkaVm && s.role !== 'monitoring')!.vm;
    const calls: string[] = [];
    const r = await run({
      orchestrators,
      activities,
      root: { name: O.boot, id: 'boot', input: { requestedBy: 'test' } },
      seed: 21,
      maxBatch: 3,
      script: (name, input, api) => {
        switch (name) {
          case A.ensureVm:
            return vmThere(input);
          case A.ensureDocker:
            return input.vm.name === broken ? { ok: false, error: 'Docker does not answer' } : { ok: true, value: { vm: input.vm.name, installed: false } };
          case A.registerVm:
            calls.push(`record ${input.vm.name} docker ${input.dockerReady}`);
            return { ok: true, value: null };
          case A.adoptServices:
            return { ok: true, value: [] };
          case A.startBuilds:
            calls.push(...input.builds.map((b: { step: string }) => `build ${b.step} on ${input.vm.name}`));
            return allBuilt(input);
          case A.startService:
            calls.push(`start ${input.service.name} on ${input.vm.name}`);
            return script(name, input, api);
          default:
            return script(name, input, api);
        }
      },
    });
    expect(r.problems).toEqual([]);
    const out = r.instances.get('boot')!.output as { status: string; failures: Array<{ target: string; step: string; reason: string }> };
    expect(out.failures).toContainEqual(expect.objectContaining({ target: broken, step: 'docker', reason: expect.stringContaining('Docker does not answer') }));
    // Recorded side by side with the check, then corrected: its record does not say Docker is ready.
    expect(calls.filter((c) => c.startsWith(`record ${broken} `))).toEqual([`record ${broken} docker true`, `record ${broken} docker false`]);
    expect(calls.filter((c) => c.endsWith(` on ${broken}`))).toEqual([]);
  });
});

describe('conformance: a group whose word to another is lost', () => {
  const { upstream, downstream } = acrossVms();
  const to = groupOf(downstream.vm);

  for (const seed of [33, 36]) {
    it(`sends a tell the task hub refused once again in a later round: the group replays as it ran, and the boot comes up (seed ${seed})`, async () => {
      const told: string[] = [];
      const r = await bootEachVmAGroup({
        seed,
        script: (name, input, api) => {
          if (name === A.notifyInstance && input.instanceId === to && input.data?.kind === 'dep') {
            told.push(JSON.stringify([input.data.name, input.data.outcomes]));
            if (told.length === 1) return { ok: false, error: 'the task hub refused the event' };
          }
          return script(name, input, api);
        },
      });
      // An SDK retry inside the arm beside the report wait was listed in another order on replay (non-deterministic).
      expect(r.problems).toEqual([]);
      expect(r.instances.get('boot')!.status).toBe('Completed');
      // The refused word went again, the same.
      expect(told.filter((t) => t === told[0])).toHaveLength(2);
      const out = r.instances.get('boot')!.output as { services: Array<{ name: string; status: string }> };
      expect(out.services.find((s) => s.name === downstream.name)?.status).toBe('running');
    });
  }

  for (const seed of [33, 34]) {
    it(`stops (what is still open in it fails with the reason); the group waiting for its word reads it from its output at a tick, and the boot completes (seed ${seed})`, async () => {
      const from = groupOf(upstream.vm);
      let refused = 0;
      const r = await bootEachVmAGroup({
        seed,
        script: (name, input, api) => {
          // The task hub refuses every event from that group to the other: its tell fails past its retries.
          if (name === A.notifyInstance && input.instanceId === to && input.data?.kind === 'dep' && input.data?.name === from) {
            refused++;
            return { ok: false, error: 'the task hub refused the event' };
          }
          return script(name, input, api);
        },
      });
      expect(r.problems).toEqual([]);
      expect(refused).toBeGreaterThan(0);
      const boot = r.instances.get('boot')!;
      expect(boot.status).toBe('Completed');
      const out = boot.output as { failures: Array<{ target: string; step: string; reason: string }>; services: Array<{ name: string; status: string }> };
      const status = (n: string) => out.services.find((s) => s.name === n)?.status;
      // Upstream ran; its group could not say so, and stopped: what was still open there failed with the reason.
      expect(status(upstream.name)).toBe('running');
      for (const f of out.failures.filter((f) => f.step === 'group')) expect(f.reason).toMatch(/^group \d+ stopped: group \d+ could not tell another group what settled: .*the task hub refused the event/);
      // The waiting group took upstream's word from its group's output: downstream started.
      expect(status(downstream.name)).toBe('running');
      expect(status('kafka')).toBe('running');
    });
  }
});

describe('conformance: a VM whose orchestration cannot start', () => {
  it('fails that VM with the host\'s reason, fails what it hosts, blocks what depends on it elsewhere; the rest comes up', async () => {
    // The broken VM (not Kafka's) hosts a service that one on another VM depends on.
    const { upstream, downstream } = acrossVms();
    const broken = upstream.vm;
    let held = false;
    const r = await bootEachVmAGroup({
      seed: 31,
      script: (name, input, api) => {
        // An earlier boot's orchestration of that VM still runs under its id.
        if (name === A.prepareBoot && !held) {
          held = true;
          api.hold(`boot-vm-${broken}`);
        }
        return script(name, input, api);
      },
    });
    expect(r.problems).toEqual([]);
    const boot = r.instances.get('boot')!;
    expect(boot.status).toBe('Completed');
    const out = boot.output as { status: string; failures: Array<{ target: string; kind: string; step: string; reason: string }>; services: Array<{ name: string; status: string }> };
    expect(out.status).toBe('partial');
    expect(out.failures).toContainEqual({ target: broken, kind: 'vm', step: 'boot', reason: `its orchestration boot-vm-${broken} ended before it reported: instance 'boot-vm-${broken}' is already running` });
    const status = (n: string) => out.services.find((s) => s.name === n)?.status;
    for (const s of topology.services.filter((x) => x.vm === broken)) expect(status(s.name), s.name).toBe('failed');
    expect(status(downstream.name)).toBe('blocked');
    // Kafka and a service on another VM that needs nothing of the broken one still come up.
    expect(status('kafka')).toBe('running');
  });
});

describe('conformance: a group takes reports while its steps\' starts are out', () => {
  it('starts the next level while the first step\'s activity has not answered yet (its report came first)', async () => {
    const order: string[] = [];
    for (const seed of [51, 52]) {
      order.length = 0;
      const r = await run({
        orchestrators,
        activities,
        root: { name: O.boot, id: 'boot', input: { requestedBy: 'test' } },
        seed,
        maxBatch: 2,
        script: (name, input, api) => {
          if (name === A.startKafka) order.push('start kafka');
          if (name === A.startService) order.push(`start ${input.service.name}`);
          return script(name, input, api);
        },
        // Kafka's step activity has started Kafka and reported, but answers only once a service started.
        holdAnswer: (name, input) => name === A.runBootStep && input.step === 'kafka' && !order.some((o) => o !== 'start kafka'),
      });
      expect(r.problems).toEqual([]);
      expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
      expect(order[0]).toBe('start kafka');
      expect(order.length).toBe(topology.services.filter((s) => s.name !== buildFails).length + 1);
      const out = r.instances.get('boot')!.output as { failures: Array<{ target: string }> };
      expect(out.failures.map((f) => f.target).sort()).toEqual([buildFails, startFails].sort());
      // No step runs as an orchestration of its own in a group: one activity each (monitoring's is the root's).
      const monitoring = topology.services.find((s) => s.role === 'monitoring')!.name;
      expect([...r.instances.keys()].filter((id) => id.startsWith('boot-step-'))).toEqual([`boot-step-${monitoring}`]);
    }
  });
});

/** The example booted in groups of two VMs, up to 3 completions per replay, with the given script. */
const bootInGroupsOf2 = (opts: { seed: number; script: Script; maxSteps?: number }) =>
  run({ orchestrators, activities, root: { name: O.boot, id: 'boot', input: { requestedBy: 'test', groupVms: 2 } }, maxBatch: 3, ...opts });

describe('conformance: a step whose activity fails before it reports', () => {
  it('fails with the activity\'s error (its answer stands in for the report); what depends on it is blocked, and the boot completes', async () => {
    const target = topology.services.find((s) => s.role !== 'monitoring' && topology.services.some((o) => o.dependsOn?.includes(s.name)))!;
    const dependent = topology.services.find((o) => o.dependsOn?.includes(target.name))!;
    for (const seed of [61, 62]) {
      const r = await bootInGroupsOf2({
        seed,
        script: (name, input, api) => {
          if (name === A.startService && input.service.name === target.name) return { ok: false, error: 'Timeout value of 00:10:00 was exceeded by function: Functions.runBootStep', unreported: true };
          return script(name, input, api);
        },
      });
      expect(r.problems).toEqual([]);
      const boot = r.instances.get('boot')!;
      expect(boot.status).toBe('Completed');
      const out = boot.output as { status: string; failures: Array<{ target: string; step: string; reason: string }>; services: Array<{ name: string; status: string }> };
      expect(out.status).toBe('partial');
      expect(out.failures).toContainEqual(expect.objectContaining({ target: target.name, step: 'start', reason: expect.stringContaining('Timeout value of 00:10:00 was exceeded') }));
      expect(out.services.find((s) => s.name === dependent.name)?.status).toBe('blocked');
      expect(out.services.find((s) => s.name === 'kafka')?.status).toBe('running');
    }
  });
});

describe('conformance: a group looks at its steps\' answers when their reports do not come', () => {
  const target = topology.services.find((s) => s.role !== 'monitoring' && topology.services.some((o) => o.dependsOn?.includes(s.name)))!;
  const dependent = topology.services.find((o) => o.dependsOn?.includes(target.name))!;
  type Out = { status: string; failures: Array<{ target: string; step: string; reason: string }>; services: Array<{ name: string; status: string }> };

  it('finds a step\'s activity that failed unreported minutes after it started (every minute, not once)', async () => {
    for (const seed of [71, 72]) {
      let startedAt: number | undefined;
      const r = await bootInGroupsOf2({
        seed,
        script: (name, input, api) => {
          if (name === A.startService && input.service.name === target.name) {
            // Runs for 3 minutes of the group's clock, then is killed: no report ever comes.
            startedAt ??= api.now();
            if (api.now() - startedAt < 180_000) return { later: true };
            return { ok: false, error: 'Timeout value of 00:30:00 was exceeded by function: Functions.runBootStep', unreported: true };
          }
          return script(name, input, api);
        },
      });
      expect(r.problems).toEqual([]);
      const boot = r.instances.get('boot')!;
      expect(boot.status).toBe('Completed');
      const out = boot.output as Out;
      expect(out.failures).toContainEqual(expect.objectContaining({ target: target.name, step: 'start', reason: expect.stringContaining('Timeout value of 00:30:00') }));
      expect(out.services.find((s) => s.name === dependent.name)?.status).toBe('blocked');
      // The group woke on its alarm clock's ticks, each a report like any other.
      const ticks = [...r.instances.values()].filter((i) => i.name === O.bootTick);
      expect(ticks.length).toBeGreaterThanOrEqual(3);
    }
  });

  it('takes a step\'s answer when its report could not be raised: the service counts as running', async () => {
    for (const seed of [73, 74]) {
      const r = await bootInGroupsOf2({
        seed,
        script: (name, input, api) => {
          const out = script(name, input, api);
          if (name === A.startService && input.service.name === target.name && 'ok' in out && out.ok) return { ...out, unreported: true };
          return out;
        },
      });
      expect(r.problems).toEqual([]);
      const out = r.instances.get('boot')!.output as Out;
      expect(r.instances.get('boot')!.status).toBe('Completed');
      // Only the script's own two failures: the target's start is not among them.
      expect(out.failures.map((f) => f.target).sort()).toEqual([buildFails, startFails].sort());
      expect(out.services.find((s) => s.name === target.name)?.status).toBe('running');
      // What depends on it started after it, as after a report.
      const after = topology.services.find((o) => o.dependsOn?.includes(target.name) && o.name !== buildFails && o.name !== startFails)!;
      expect(out.services.find((s) => s.name === after.name)?.status).toBe('running');
    }
  });
});

describe('conformance: a VM whose orchestration ends before it reports', () => {
  type Out = { status: string; failures: Array<{ target: string; kind: string; step: string; reason: string }>; services: Array<{ name: string; vm: string; status: string }> };
  // A VM with services that services elsewhere depend on, neither Kafka's nor monitoring's.
  const monitoringVm = topology.services.find((s) => s.role === 'monitoring')!.vm;
  const vm = topology.vms.map((v) => v.name).find((name) => name !== topology.kafka!.vm && name !== monitoringVm && topology.services.some((s) => s.vm === name))!;
  const onVm = topology.services.filter((s) => s.vm === vm).map((s) => s.name);
  const boot = (when: string, seed: number) =>
    bootInGroupsOf2({
      seed,
      maxSteps: 2_000,
      script: (name, input, api) => {
        // An operator terminates the VM's orchestration while it waits for this activity.
        if (name === when && input.vm?.name === vm) {
          api.terminate(`boot-vm-${vm}`);
          return { ok: false, error: 'the instance was terminated' };
        }
        return script(name, input, api);
      },
    });

  for (const [when, seed] of [[A.ensureVm, 91], [A.ensureVm, 92], [A.pollBuilds, 93], [A.pollBuilds, 94]] as const) {
    it(`fails that VM's services with the reason at the group's next tick, and the boot completes (terminated at ${when}, seed ${seed})`, async () => {
      const r = await boot(when, seed);
      expect(r.problems).toEqual([]);
      const root = r.instances.get('boot')!;
      expect(root.status).toBe('Completed');
      const out = root.output as Out;
      expect(out.status).toBe('partial');
      // Each service there failed with the reason (or is blocked by one there that did).
      for (const service of onVm) expect(['failed', 'blocked']).toContain(out.services.find((s) => s.name === service)?.status);
      const failedThere = out.failures.filter((f) => (f.target === vm || onVm.includes(f.target)) && f.target !== buildFails && f.target !== startFails);
      expect(failedThere.length).toBeGreaterThan(0);
      const ended = `its orchestration boot-vm-${vm} ended before it reported: instance 'boot-vm-${vm}' was terminated`;
      for (const f of failedThere) expect(`${f.reason} ${f.step}`).toMatch(new RegExp(`${ended}|VM "${vm}" failed`));
      expect(failedThere.some((f) => f.reason.includes(ended))).toBe(true);
      // Nothing else failed but what the script fails anyway, and what depends on the VM is blocked, not failed.
      expect(out.failures.filter((f) => f.target !== vm && !onVm.includes(f.target)).map((f) => f.target).sort()).toEqual([buildFails, startFails].filter((s) => !onVm.includes(s)).sort());
      expect(out.services.find((s) => s.name === 'kafka')?.status).toBe('running');
    });
  }
});

describe('conformance: a group whose orchestration ends before it reports', () => {
  type Out = { status: string; failures: Array<{ target: string; kind: string; step: string; reason: string }>; services: Array<{ name: string; vm: string; status: string; blockedBy?: string }> };
  // The ended group's VM (neither Kafka's nor monitoring's) hosts a service that one in another group depends on.
  const { upstream, downstream } = acrossVms(true);
  const group = groupOf(upstream.vm);
  const reason = `its orchestration ${group} was terminated before it reported`;

  for (const seed of [101, 102, 103]) {
    it(`the root finds it at a tick: its VM and services fail with the reason, what waits on it in other groups is blocked, the boot completes (seed ${seed})`, async () => {
      const recorded: string[] = [];
      const r = await bootEachVmAGroup({
        seed,
        script: (name, input, api) => {
          // An operator terminates the group while its VM is being created: it tells no one, reports nothing.
          if (name === A.ensureVm && input.vm.name === upstream.vm) api.terminate(group);
          if (name === A.recordEvent && input.type === 'failure') recorded.push(`${input.target}: ${input.reason}`);
          return script(name, input, api);
        },
      });
      expect(r.problems).toEqual([]);
      const root = r.instances.get('boot')!;
      expect(root.status).toBe('Completed');
      const out = root.output as Out;
      expect(out.status).toBe('partial');
      expect(out.failures).toContainEqual({ target: upstream.vm, kind: 'vm', step: 'group', reason });
      for (const s of topology.services.filter((x) => x.vm === upstream.vm)) {
        expect(out.services.find((o) => o.name === s.name)?.status, s.name).toBe('failed');
        expect(out.failures.find((f) => f.target === s.name), s.name).toMatchObject({ step: 'vm', reason: `VM "${upstream.vm}" failed (group)` });
      }
      // The other group heard nothing from it: its own tick found the group ended.
      expect(out.services.find((s) => s.name === downstream.name)).toMatchObject({ status: 'blocked', blockedBy: upstream.name });
      expect(out.services.find((s) => s.name === 'kafka')?.status).toBe('running');
      // Nothing failed elsewhere but what the script fails anyway.
      const elsewhere = out.failures.filter((f) => f.target !== upstream.vm && !topology.services.some((s) => s.vm === upstream.vm && s.name === f.target));
      expect(elsewhere.map((f) => f.target).sort()).toEqual([buildFails, startFails].filter((n) => topology.services.find((s) => s.name === n)!.vm !== upstream.vm).sort());
      // The root records the ended group as one failure of the platform.
      expect(recorded).toContain(`platform: ${reason}: its VMs and services failed`);
    });
  }

  it('the monitoring service\'s step orchestration terminated while it starts: monitoring fails with the reason, no watchdog starts, the boot completes', async () => {
    const monitoring = topology.services.find((s) => s.role === 'monitoring')!.name;
    let watchdogs = 0;
    const r = await bootInGroupsOf2({
      seed: 111,
      maxSteps: 4_000,
      script: (name, input, api) => {
        if (name === A.startService && input.service.name === monitoring) {
          api.terminate(`boot-step-${monitoring}`);
          return { ok: false, error: 'the instance was terminated' };
        }
        if (name === A.startWatchdog) watchdogs++;
        return script(name, input, api);
      },
    });
    expect(r.problems).toEqual([]);
    const root = r.instances.get('boot')!;
    expect(root.status).toBe('Completed');
    const out = root.output as Out;
    expect(out.failures).toContainEqual({ target: monitoring, kind: 'service', step: 'start', reason: `its orchestration boot-step-${monitoring} was terminated before it reported` });
    expect(out.services.find((s) => s.name === monitoring)?.status).toBe('failed');
    expect(watchdogs).toBe(0);
  });
});

describe('conformance: a report to the root that the task hub refuses', () => {
  type Out = { status: string; failures: Array<{ target: string; kind: string; step: string; reason: string }>; services: Array<{ name: string; vm: string; status: string }> };
  const monitoring = topology.services.find((s) => s.role === 'monitoring')!;

  for (const seed of [121, 122]) {
    it(`a group whose report is refused past its retries completes; the root reads its report from its output at a tick, and starts monitoring (seed ${seed})`, async () => {
      // Monitoring's own group: its report carries monitoring's handoff.
      const group = groupOf(monitoring.vm);
      let refused = 0;
      const r = await bootEachVmAGroup({
        seed,
        script: (name, input, api) => {
          if (name === A.notifyInstance && input.instanceId === 'boot' && input.data?.kind === 'group' && input.data?.name === group) {
            refused++;
            return { ok: false, error: 'the task hub refused the event' };
          }
          return script(name, input, api);
        },
      });
      expect(r.problems).toEqual([]);
      expect(refused).toBeGreaterThan(1);
      const g = r.instances.get(group)!;
      expect(g.status).toBe('Completed');
      expect((g.output as { unreported?: string }).unreported).toMatch(new RegExp(`^group \\d+ could not report to the boot: .*the task hub refused the event`));
      const root = r.instances.get('boot')!;
      expect(root.status).toBe('Completed');
      const out = root.output as Out;
      // Nothing failed for the lost report: what failed is what the script fails anyway.
      expect(out.failures.filter((f) => f.step === 'group')).toEqual([]);
      expect(out.failures.map((f) => f.target).sort()).toEqual([buildFails, startFails].sort());
      expect(out.services.find((s) => s.name === monitoring.name)?.status).toBe('running');
      expect(out.services.filter((s) => s.vm === monitoring.vm && ![buildFails, startFails].includes(s.name)).every((s) => s.status === 'running')).toBe(true);
    });
  }

  it('monitoring\'s step whose report is refused completes; the root reads the outcome from its output at a tick, and starts the watchdog', async () => {
    let refused = 0;
    let watchdogs = 0;
    const r = await bootInGroupsOf2({
      seed: 123,
      maxSteps: 4_000,
      script: (name, input, api) => {
        if (name === A.notifyInstance && input.instanceId === 'boot' && input.data?.kind === 'step' && input.data?.name === monitoring.name) {
          refused++;
          return { ok: false, error: 'the task hub refused the event' };
        }
        if (name === A.startWatchdog) watchdogs++;
        return script(name, input, api);
      },
    });
    expect(r.problems).toEqual([]);
    expect(refused).toBeGreaterThan(1);
    expect(r.instances.get(`boot-step-${monitoring.name}`)?.status).toBe('Completed');
    const root = r.instances.get('boot')!;
    expect(root.status).toBe('Completed');
    const out = root.output as Out;
    expect(out.services.find((s) => s.name === monitoring.name)?.status).toBe('running');
    expect(out.failures.filter((f) => f.target === monitoring.name)).toEqual([]);
    expect(watchdogs).toBe(1);
  });
});

describe('conformance: on a VM that was there, the builds start beside Docker\'s check', () => {
  const kafkaVm = topology.kafka!.vm;
  const reboot = (docker: (api: { asked: string[] }) => ReturnType<Script>, builds: (n: number) => ReturnType<Script> | undefined) => {
    const asked: string[] = [];
    let buildCalls = 0;
    const s: Script = (name, input, api) => {
      switch (name) {
        case A.ensureVm:
          return vmThere(input);
        case A.adoptServices:
          return { ok: true, value: [] };
        case A.ensureDocker:
          if (input.vm.name !== kafkaVm) return script(name, input, api);
          {
            const r = docker({ asked });
            if (!('later' in r)) asked.push('docker done');
            return r;
          }
        case A.startBuilds:
          if (input.vm.name !== kafkaVm) return allBuilt(input);
          asked.push(`builds ${++buildCalls}`);
          return builds(buildCalls) ?? allBuilt(input);
        default:
          return script(name, input, api);
      }
    };
    return { s, asked };
  };

  it('does not wait for the check: the builds are asked for while Docker\'s check still runs', async () => {
    // Docker's check on Kafka's VM answers only once its builds were asked for.
    const { s, asked } = reboot(({ asked }) => (asked.includes('builds 1') ? { ok: true, value: { vm: kafkaVm, installed: false } } : { later: true }), () => undefined);
    const r = await run({ orchestrators, activities, script: s, root: { name: O.boot, id: 'boot', input: { requestedBy: 'test' } }, seed: 81, maxBatch: 2 });
    expect(r.problems).toEqual([]);
    expect([...r.scheduled].filter(([, n]) => n > 1)).toEqual([]);
    expect((r.instances.get('boot')!.output as { status: string }).status).toBe('partial'); // the script's failing start
    expect(asked).toEqual(['builds 1', 'docker done']);
  });

  it('starts them again after the check when Docker was not running (installed now), and the boot comes up', async () => {
    const { s, asked } = reboot(
      () => ({ ok: true, value: { vm: kafkaVm, installed: true } }),
      (n) => (n === 1 ? { ok: false, error: 'list images: docker: command not found' } : undefined),
    );
    const r = await run({ orchestrators, activities, script: s, root: { name: O.boot, id: 'boot', input: { requestedBy: 'test' } }, seed: 82, maxBatch: 3 });
    expect(r.problems).toEqual([]);
    // Only that VM's builds are asked for twice: the early start, and the one after Docker's install.
    expect([...r.scheduled].filter(([, n]) => n > 1).map(([k]) => k.split('|').slice(0, 2).join('|'))).toEqual([`boot-vm-${kafkaVm}|${A.startBuilds}`]);
    expect(asked.filter((a) => a.startsWith('builds'))).toEqual(['builds 1', 'builds 2']);
    expect(asked.indexOf('builds 2')).toBeGreaterThan(asked.indexOf('docker done'));
    const out = r.instances.get('boot')!.output as { services: Array<{ name: string; status: string }> };
    expect(out.services.find((x) => x.name === 'kafka')?.status).toBe('running');
    for (const svc of topology.services.filter((x) => x.vm === kafkaVm && x.name !== buildFails && x.name !== startFails)) expect(out.services.find((x) => x.name === svc.name)?.status, svc.name).not.toBe('failed');
  });
});
