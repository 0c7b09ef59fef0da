/**
 * The boot in groups on the real local host (the LCM's boot orchestrations and durable-client
 * activities, every other activity a stub: bench/boot-scaling.app.ts): a generated platform booted
 * as one group and as four gives the same output; groups tell each other what settled, so a
 * service started in one group waited for its dependencies in others, and a failed start blocks
 * its dependents in every group; no orchestration schedules anything twice; a group id an earlier
 * boot's instance still holds stops the boot before any group starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../../local/host/index.js';
import { O } from '../../../functions/activities/contracts.js';
import { BOOT_ID } from '../../../functions/platform/ids.js';
import type { BootOutput } from '../../../functions/platform/boot-output.js';
import { generateTopology } from '../../../bench/generate-platform.js';
import type { ScalingConfig } from '../../../bench/boot-scaling.app.js';
import { hang } from '../../helpers/hang-guard.js';
import azureFunctions from '@azure/functions';
import * as df from 'durable-functions';
import { groupsSettled } from '../../../functions/activities/boot.js';

const ENTRY = new URL('../../../bench/boot-scaling.app.ts', import.meta.url).pathname;
const config = ((globalThis as unknown as { __lcmScaling?: ScalingConfig }).__lcmScaling ??= { activityMs: 0 });
const topology = generateTopology({ vms: 8, services: 32, depth: 4, seed: 3 });

let host: LocalHost;
beforeAll(async () => {
  config.topology = topology;
  host = await startLocalHost({ entry: ENTRY, port: 0, storeFile: ':memory:', log: () => undefined });
});
afterAll(async () => {
  await host?.stop();
  config.failStart = undefined;
  config.failResourceGroup = undefined;
});

async function boot(groupVms: number): Promise<BootOutput> {
  host.startNew(O.boot, { instanceId: BOOT_ID, input: { requestedBy: 'test', groupVms } });
  const s = await host.waitForInstance(BOOT_ID, { timeoutInMs: hang(120_000) });
  expect(s.runtimeStatus).toBe('Completed');
  return s.output as BootOutput;
}

const historyOf = (id: string) => host.getInstance(id, { showHistory: true, showHistoryOutput: true })?.historyEvents ?? [];
/** The `dep` reports a group received from other groups. */
const depReports = (id: string) =>
  historyOf(id)
    .filter((e) => String(e.EventType) === 'EventRaised')
    .map((e) => e.Input as { kind: string; outcomes?: Array<{ step: string; ok: boolean }> })
    .filter((r) => r.kind === 'dep');

describe('the boot in groups, on the local host', () => {
  let single: BootOutput;

  it('boots the platform as one group', async () => {
    single = await boot(8);
    expect(single.status).toBe('succeeded');
    expect(single.services.every((s) => s.status === 'running')).toBe(true);
    expect(historyOf('boot-group-1')).toEqual([]);
  });

  it('boots it as four groups of two VMs to the same output, the groups telling each other what ran', async () => {
    const grouped = await boot(2);
    expect(grouped).toEqual(single);
    for (let g = 0; g < 4; g++) expect(host.getInstance(`boot-group-${g}`)?.runtimeStatus).toBe('Completed');
    // Kafka is on the first VM: every other group heard of it from group 0, as ran.
    for (let g = 1; g < 4; g++) expect(depReports(`boot-group-${g}`).flatMap((r) => r.outcomes ?? [])).toContainEqual({ step: 'kafka', ok: true });
    // The root's history: its activities and one report per group, not one per VM or service.
    const rootEvents = historyOf(BOOT_ID).filter((e) => String(e.EventType) === 'EventRaised');
    expect(rootEvents.length).toBe(4 + 1); // four groups, and monitoring's own start
  });

  it('reads what a group that ended says of its steps (groupsSettled): from its output for this run, none ran for another run', async () => {
    const client = df.input.durableClient();
    const ctx = new azureFunctions.InvocationContext({ invocationId: 'settled', functionName: 'groupsSettled', options: { extraInputs: [client] } });
    ctx.extraInputs.set(client, host.clientData);
    const run = (host.getInstance('boot-group-0', { showInput: true })?.input as { notify: { run: string } }).notify.run;
    const failed = topology.services.find((s) => s.vm <= 'vm-01')!.name;
    const groups = [{ instanceId: 'boot-group-0', steps: ['kafka', failed] }];
    // The last boot (four groups) came up whole: everything in group 0 ran.
    expect(await groupsSettled({ run, groups, tick: 't' }, ctx)).toEqual([{ instanceId: 'boot-group-0', ended: 'Completed', outcomes: [{ step: 'kafka', ok: true }, { step: failed, ok: true }] }]);
    // The same id holding another run's group: nothing ran, as far as this run can tell.
    expect(await groupsSettled({ run: 'another boot', groups, tick: 't' }, ctx)).toEqual([{ instanceId: 'boot-group-0', ended: 'another run', outcomes: [{ step: 'kafka', ok: false }, { step: failed, ok: false }] }]);
    // A group not there yet (or still running) says nothing: its word may still come.
    expect(await groupsSettled({ run, groups: [{ instanceId: 'boot-group-9', steps: ['kafka'] }], tick: 't' }, ctx)).toEqual([]);
    await expect(groupsSettled({ run, groups: [{ instanceId: 'boot-group-0' }] as never, tick: 't' }, ctx)).rejects.toThrow(/groupsSettled: refused unsafe input \(groups: must be a list of \{ instanceId, steps \}\)/);
  });

  it('blocks what depends on a failed start in every group, and fails nothing else', async () => {
    // A service of the first group that services of other groups depend on.
    const failing = topology.services.find((s) => s.vm <= 'vm-01' && s.role !== 'monitoring' && topology.services.some((o) => o.vm > 'vm-01' && o.dependsOn.includes(s.name)))!;
    expect(failing).toBeDefined();
    config.failStart = [failing.name];
    const out = await boot(2);
    config.failStart = undefined;
    expect(out.status).toBe('partial');
    expect(out.failures.map((f) => f.target)).toEqual([failing.name]);
    const blocked = out.services.filter((s) => s.status === 'blocked');
    expect(blocked.some((s) => s.vm > 'vm-01')).toBe(true);
    // Exactly what depends on it, directly or not, is blocked.
    const dependsOn = (name: string): boolean => {
      const spec = topology.services.find((s) => s.name === name)!;
      return spec.dependsOn.includes(failing.name) || spec.dependsOn.some(dependsOn);
    };
    expect(blocked.map((s) => s.name).sort()).toEqual(topology.services.filter((s) => s.role !== 'monitoring' && dependsOn(s.name)).map((s) => s.name).sort());
    expect(out.services.filter((s) => !['running', 'blocked', 'failed'].includes(s.status))).toEqual([]);
  });

  it('runs each step as one activity that reports to its group: no step orchestration but the monitoring service\'s', async () => {
    const out = await boot(2);
    expect(out.status).toBe('succeeded');
    const monitoring = topology.services.find((s) => s.role === 'monitoring')!.name;
    // The root starts the monitoring service once every group has settled, as a step orchestration of its own.
    expect(host.listInstances().filter((i) => i.instanceId.startsWith('boot-step-')).map((i) => i.instanceId)).toEqual([`boot-step-${monitoring}`]);
    // Every other step's report reached its group, raised by its runBootStep activity.
    const reported = [0, 1, 2, 3].flatMap((g) =>
      historyOf(`boot-group-${g}`)
        .filter((e) => String(e.EventType) === 'EventRaised')
        .map((e) => e.Input as { kind: string; name: string })
        .filter((r) => r.kind === 'step')
        .map((r) => r.name),
    );
    expect(reported.sort()).toEqual(['kafka', ...topology.services.filter((s) => s.name !== monitoring).map((s) => s.name)].sort());
    // No group needed its alarm clock to look at the steps' answers: each took every report as it
    // came. (A tick of an earlier boot's clock may reach a later run of the group: only this run's count.)
    for (let g = 0; g < 4; g++) {
      const history = historyOf(`boot-group-${g}`);
      const clocks = new Set(history.filter((e) => String(e.EventType) === 'SubOrchestrationInstanceCreated').map((e) => String(e.InstanceId)));
      const ticks = history.filter((e) => String(e.EventType) === 'EventRaised').map((e) => e.Input as { kind: string; name: string }).filter((r) => r.kind === 'tick' && clocks.has(r.name));
      expect(ticks).toEqual([]);
      expect(history.filter((e) => String(e.EventType) === 'TimerFired')).toEqual([]);
    }
  });

  it('refuses to boot while an earlier boot\'s group still runs under a group\'s id, naming it, and starts no group', async () => {
    const before = (id: string) => (host.getInstance(id, { showInput: true })?.input as { notify: { run: string } }).notify.run;
    const runs = [0, 1, 2].map((g) => before(`boot-group-${g}`));
    // An instance of another boot holds the last group's id (an alarm clock, waiting out its timer).
    host.startNew(O.bootTick, { instanceId: 'boot-group-3', input: { notify: { instanceId: 'an-earlier-boot', run: 'an-earlier-boot:t' }, afterInMs: 600_000 } });
    try {
      host.startNew(O.boot, { instanceId: BOOT_ID, input: { requestedBy: 'test', groupVms: 2 } });
      const s = await host.waitForInstance(BOOT_ID, { timeoutInMs: hang(60_000) });
      expect(s.runtimeStatus).toBe('Failed');
      expect(JSON.stringify(s.output)).toMatch(/the boot's group 'boot-group-3' of an earlier boot is still Running: wait for it to finish or terminate it, then boot again/);
      // No group of this boot started: the others still hold the last boot's run.
      expect([0, 1, 2].map((g) => before(`boot-group-${g}`))).toEqual(runs);
    } finally {
      host.terminate('boot-group-3', 'test done');
    }
  }, hang(60_000));

  it('without its resource group every VM fails, and everything on them, with the reason; no group starts', async () => {
    config.failResourceGroup = 'AuthorizationFailed: the client may not write resource groups';
    const out = await boot(2);
    config.failResourceGroup = undefined;
    expect(out.status).toBe('failed');
    expect(out.vms.every((v) => v.status === 'failed')).toBe(true);
    // Failed with their VM, or blocked first by a dependency on a VM that failed before theirs.
    expect(out.services.filter((s) => s.status !== 'failed' && s.status !== 'blocked')).toEqual([]);
    const vmFailures = out.failures.filter((f) => f.kind === 'vm');
    expect(vmFailures.map((f) => f.target)).toEqual(topology.vms.map((v) => v.name));
    for (const f of vmFailures) expect(f).toMatchObject({ step: 'resource group', reason: expect.stringMatching(/AuthorizationFailed/) });
    expect(out.failures.filter((f) => f.kind === 'service').map((f) => f.target).sort()).toEqual(out.services.filter((s) => s.status === 'failed').map((s) => s.name).sort());
    // The groups of the earlier boots completed; none was started again for this one.
    expect(historyOf(BOOT_ID).filter((e) => String(e.EventType) === 'EventRaised')).toEqual([]);
  }, hang(60_000));
});
