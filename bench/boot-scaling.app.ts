/**
 * The function app the boot-scaling bench loads: the LCM's real boot orchestrations (boot, bootVm,
 * bootStep) and its real startInstances / notifyInstance activities (durable client), with every
 * other activity a stub that answers after a configurable delay. What is left is the cost of the
 * orchestration itself: replays, commits, dispatches. The test of the boot's groups on the local
 * host (test/integration/host/boot-groups.test.ts) loads it too.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { ActivityHandler } from 'durable-functions';
import { setTimeout as sleep } from 'node:timers/promises';
import { A, O, type StartedService } from '../functions/activities/contracts.js';
import { endedInstances, notifyInstance, startInstances } from '../functions/activities/instances.js';
import { groupsSettled, makePrepareBoot, makeSummarizeBoot } from '../functions/activities/boot.js';
import { makeRunBootStep } from '../functions/activities/boot-step.js';
import { bootGroup } from '../functions/orchestrations/boot-group.js';
import { bootTick } from '../functions/orchestrations/boot-tick.js';
import { bootPlatform } from '../functions/orchestrations/boot-platform.js';
import { bootStep } from '../functions/orchestrations/boot-step.js';
import { bootVm } from '../functions/orchestrations/boot-vm.js';
import type { Topology } from '../functions/platform/topology.js';

/** Set by the bench (same process) before each boot. */
export interface ScalingConfig {
  topology?: Topology;
  /** Time each stubbed activity takes (default 0: orchestration cost alone). */
  activityMs: number;
  /**
   * How long each image build runs on its (stub) VM: 0 (default) reports every image built at once,
   * as on a VM that has them; more makes the boot poll them between durable timers, as on Azure.
   */
  buildMs?: number;
  /** Services whose start fails (the boot then blocks what depends on them, in any group). */
  failStart?: string[];
  /** Why the resource group cannot be made (the boot then fails every VM with it). */
  failResourceGroup?: string;
}
export const scalingConfig = ((globalThis as unknown as { __lcmScaling?: ScalingConfig }).__lcmScaling ??= { activityMs: 0 });

const delayed =
  <I, R>(fn: (input: I, context: InvocationContext) => R | Promise<R>): ActivityHandler =>
  async (input: unknown, context: InvocationContext) => {
    if (scalingConfig.activityMs > 0) await sleep(scalingConfig.activityMs);
    return fn(input as I, context);
  };

const ipOf = (vm: string): string => {
  const n = Number(vm.replace(/\D/g, '')) || 0;
  return `10.${(n >> 8) & 255}.${n & 255}.4`;
};

df.app.orchestration(O.boot, bootPlatform);
df.app.orchestration(O.bootGroup, bootGroup);
df.app.orchestration(O.bootTick, bootTick);
df.app.orchestration(O.bootVm, bootVm);
df.app.orchestration(O.bootStep, bootStep);

const stub = (name: string, fn: (input: any, context: InvocationContext) => unknown, client = false) =>
  df.app.activity(name, { handler: delayed(fn), extraInputs: client ? [df.input.durableClient()] : [] });

const readDesiredState = () => {
  if (!scalingConfig.topology) throw new Error('boot-scaling bench: no topology set');
  return { topology: scalingConfig.topology, version: 1 };
};
const ensureResourceGroup = () => {
  if (scalingConfig.failResourceGroup) throw new Error(scalingConfig.failResourceGroup);
  return { created: false };
};
const codeVersions = (i: { sources: string[] }) => i.sources.map((source: string) => ({ source, version: 'v1' }));
stub(A.readDesiredState, readDesiredState);
stub(A.ensureResourceGroup, ensureResourceGroup);
stub(A.recordEvent, () => undefined);
stub(A.ensureVm, (i) => ({ name: i.vm.name, publicIp: ipOf(i.vm.name), privateIp: ipOf(i.vm.name), powerState: 'running', created: true, started: true }));
stub(A.ensureDocker, (i) => ({ vm: i.vm.name, installed: true }));
stub(A.registerVm, () => undefined);
stub(A.codeVersions, codeVersions);
// The real prepare activity over the stub desired state, resource group and versions; the real summary.
const prepareBoot = makePrepareBoot({ readDesiredState: async () => readDesiredState(), ensureResourceGroup: async () => ensureResourceGroup(), codeVersions: async (i) => codeVersions(i), recordEvent: async () => undefined });
stub(A.prepareBoot, prepareBoot, true);
stub(A.summarizeBoot, makeSummarizeBoot({ recordEvent: async () => undefined }), true);
/** When each stub build started (vm/image): a poll answers built once buildMs has passed. */
const buildStarts = new Map<string, number>();
const builtImage = (step: string, image: string) => ({ step, state: 'built', image: { step, image, version: 'v1', built: true } });
stub(A.startBuilds, (i) =>
  i.builds.map((b: { step: string }) => {
    const image = `lcm/${b.step}:v1`;
    if (!(scalingConfig.buildMs ?? 0)) return builtImage(b.step, image);
    const key = `${i.vm.name}/${image}`;
    if (!buildStarts.has(key)) buildStarts.set(key, Date.now());
    return { step: b.step, state: 'running', image, version: 'v1' };
  }),
);
stub(A.pollBuilds, (i) =>
  i.builds.map((b: { step: string; image: string }) =>
    Date.now() - (buildStarts.get(`${i.vm.name}/${b.image}`) ?? 0) >= (scalingConfig.buildMs ?? 0) ? builtImage(b.step, b.image) : { step: b.step, state: 'running', image: b.image, version: 'v1' },
  ),
);
const started = (i: any, service: string, kind: string, port: number): StartedService => ({ service, kind, vm: i.vm.name, host: i.vm.privateIp, port, status: 'running', startedAt: '2026-01-01T00:00:00.000Z', action: 'created' }) as StartedService;
const startService = async (i: any) => {
  if (scalingConfig.failStart?.includes(i.service.name)) throw new Error(`health check of ${i.service.name} timed out`);
  return started(i, i.service.name, i.service.kind, i.service.port);
};
const startKafka = async (i: any) => started(i, 'kafka', 'broker', i.kafka.port);
stub(A.startService, startService);
stub(A.startKafka, startKafka);
// The real step activity over the stub starts: its report goes through the durable client.
stub(A.runBootStep, makeRunBootStep({ startService, startKafka }), true);
stub(A.startWatchdog, () => ({ started: true }));
stub(A.startInstances, startInstances, true);
stub(A.notifyInstance, notifyInstance, true);
stub(A.endedInstances, endedInstances, true);
stub(A.groupsSettled, groupsSettled, true);
