/**
 * The startInstances and endedInstances activities (functions/activities/instances.ts) through
 * the SDK's durable client against the local host: startInstances starts first and looks only when
 * refused, so an instance of the same run counts as started (the activity ran twice) and one
 * another run holds is refused, named; endedInstances names the instances that failed or were
 * terminated, and no other (asked with a boot's run, also those of the run that completed, with
 * their output); summarizeBoot takes the share of a group that ended before it reported
 * from the group's input, and records the boot's end event with the outcome it summarized.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import azureFunctions from '@azure/functions';
import * as df from 'durable-functions';
import { endedInstances, startInstances } from '../../../functions/activities/instances.js';
import { makeSummarizeBoot } from '../../../functions/activities/boot.js';
import { bootGroups } from '../../../functions/platform/boot-groups.js';
import { assertTopology } from '../../../functions/platform/validate.js';
import { exampleDocument } from '../../helpers/topology.js';
import type { EventInput, StartInstancesInput } from '../../../functions/activities/contracts.js';
import { startFixtureHost, type TestHost } from './helpers.js';

const { InvocationContext } = azureFunctions;

describe('startInstances and endedInstances on the local host', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(() => host?.stop());

  const context = () => {
    const client = df.input.durableClient();
    const ctx = new InvocationContext({ invocationId: 'start', functionName: 'startInstances', options: { extraInputs: [client] } });
    ctx.extraInputs.set(client, host.clientData);
    return ctx;
  };
  // The fixture app's `approval` waits for two events: it stays running. (The activity's input
  // type names the LCM's own orchestrations; the client starts any registered one.)
  const approval = (instanceId: string, input: unknown) => ({ instances: [{ name: 'approval', instanceId, input }] }) as unknown as StartInstancesInput;

  it('starts an instance, takes one of the same run as started, and refuses one another run holds', async () => {
    expect(await startInstances(approval('held', { run: 1 }), context())).toEqual([{ instanceId: 'held', started: true }]);
    expect(host.getInstance('held')?.runtimeStatus).toMatch(/Pending|Running/);
    // The same input again (the activity ran twice): started, and still the one instance.
    expect(await startInstances(approval('held', { run: 1 }), context())).toEqual([{ instanceId: 'held', started: true }]);
    expect(host.listInstances().filter((i) => i.instanceId === 'held')).toHaveLength(1);
    const [other] = await startInstances(approval('held', { run: 2 }), context());
    expect(other).toEqual({ instanceId: 'held', started: false, reason: expect.stringMatching(/^instance 'held' \(approval\) is already (Running|Pending)$/) });
    // The refusal changed nothing: the instance runs with the first run's input.
    expect(host.getInstance('held', { showInput: true })?.input).toEqual({ run: 1 });
  });

  it('names an orchestrator the app does not have', async () => {
    const [r] = await startInstances({ instances: [{ name: 'noSuchOrchestrator', instanceId: 'x', input: 1 }] } as unknown as StartInstancesInput, context());
    expect(r).toMatchObject({ instanceId: 'x', started: false, reason: expect.stringMatching(/noSuchOrchestrator/) });
  });

  it('names the instances that were terminated or failed, not those running, completed or missing', async () => {
    await startInstances(approval('cut', 1), context());
    await startInstances(approval('waiting', 1), context());
    expect(host.terminate('cut', 'an operator')).toBe('ok');
    host.startNew('sequence', { instanceId: 'done', input: ['a'] });
    host.startNew('failingChild', { instanceId: 'broken', input: 1 });
    expect((await host.waitForInstance('done')).runtimeStatus).toBe('Completed');
    expect((await host.waitForInstance('broken')).runtimeStatus).toBe('Failed');
    await host.waitForInstance('cut');
    const ended = await endedInstances({ instanceIds: ['cut', 'waiting', 'done', 'broken', 'never-started'], tick: 't1' }, context());
    expect(ended).toEqual([
      { instanceId: 'cut', runtimeStatus: 'Terminated' },
      { instanceId: 'broken', runtimeStatus: 'Failed' },
    ]);
  });

  it('asked with a run, also names the instances of that run that completed, with their output', async () => {
    host.startNew('roundTrip', { instanceId: 'ours', input: { notify: { run: 'boot:t1' } } });
    host.startNew('roundTrip', { instanceId: 'theirs', input: { notify: { run: 'boot:t0' } } });
    await startInstances(approval('ours-waiting', { notify: { run: 'boot:t1' } }), context());
    expect((await host.waitForInstance('ours')).runtimeStatus).toBe('Completed');
    expect((await host.waitForInstance('theirs')).runtimeStatus).toBe('Completed');
    const ended = await endedInstances({ instanceIds: ['ours', 'theirs', 'ours-waiting'], tick: 't2', run: 'boot:t1' }, context());
    expect(ended).toEqual([{ instanceId: 'ours', runtimeStatus: 'Completed', output: expect.objectContaining({ b: { notify: { run: 'boot:t1' } } }) }]);
    await expect(endedInstances({ instanceIds: ['ours'], tick: 't3', run: '' }, context())).rejects.toThrow(/endedInstances: refused unsafe input \(run: must be the boot's run\)/);
  });

  it('summarizes a group terminated before it reported from its input: its VMs and services failed, with the reason', async () => {
    const topology = assertTopology(exampleDocument());
    const [slice] = bootGroups(topology, new Map()).groups;
    await startInstances(approval('boot-group-0', { slice, notify: { instanceId: 'boot', run: 'boot:t' }, operationId: 'boot' }), context());
    expect(host.terminate('boot-group-0', 'an operator')).toBe('ok');
    await host.waitForInstance('boot-group-0');
    const recorded: EventInput[] = [];
    const summarizeBoot = makeSummarizeBoot({ recordEvent: async (e) => void recorded.push(e) });
    const end = { id: 'boot:t:end', operationId: 'boot', at: '2026-12-02T00:00:00.000Z' };
    const out = await summarizeBoot({ groups: ['boot-group-0'], end }, context());
    const reason = 'its orchestration boot-group-0 was terminated before it reported';
    expect(out.status).toBe('failed');
    expect(out.vms).toEqual(topology.vms.map((v) => ({ name: v.name, status: 'failed' })));
    for (const vm of topology.vms) expect(out.failures).toContainEqual({ target: vm.name, kind: 'vm', step: 'group', reason });
    expect(out.services.map((s) => s.name)).toEqual(['kafka', ...topology.services.map((s) => s.name)]);
    // Each failed with its VM, or is blocked by one that did.
    expect(out.services.filter((s) => s.status !== 'failed' && s.status !== 'blocked')).toEqual([]);
    expect(out.services.find((s) => s.name === 'kafka')?.status).toBe('failed');
    // The boot's end event, once, with the outcome summarized.
    expect(recorded).toEqual([{ ...end, target: 'platform', targetKind: 'platform', type: 'boot', outcome: 'failed', reason: `${out.failures.length} failure(s)` }]);
  });

  it('refuses a list that is not one of instance ids, naming it', async () => {
    await expect(endedInstances({ instanceIds: ['ok', ''], tick: 't' }, context())).rejects.toThrow(/endedInstances: refused unsafe input \(instanceIds: must be a list of instance ids\)/);
  });
});
