/**
 * The local host is no kinder than the Durable extension: what Azure would schedule twice, misroute,
 * refuse or fail, it does too (see local/host/shim.ts for the sources it follows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixtureHost, type TestHost } from './helpers.js';
import { state } from '../../fixtures/host-app/state.js';

describe('local host: a new Task.any over tasks already scheduled (azure-functions-durable-js#574)', () => {
  let lenient: TestHost;
  let strict: TestHost;
  beforeAll(async () => {
    lenient = await startFixtureHost({ rejectRelisting: false });
    strict = await startFixtureHost();
  });
  afterAll(async () => {
    await lenient?.stop();
    await strict?.stop();
  });

  it('misbehaves as on Azure when not rejected: tasks run again and a later task gets another task\'s result', async () => {
    const before = state.calls.slow ?? 0;
    const id = lenient.startNew('relistAny', { input: [300, 30, 600] });
    const s = await lenient.waitForInstance(id, { timeoutInMs: 20_000 });
    expect(s.runtimeStatus).toBe('Completed');
    // Three tasks, but the shim scheduled the re-listed ones again: 300 and 600 twice, 600 a third time.
    expect((state.calls.slow ?? 0) - before).toBeGreaterThan(3);
    const scheduled = (lenient.getTimeline(id) ?? []).filter((e) => e.event === 'TaskScheduled' && e.name === 'slow');
    expect(scheduled.length).toBeGreaterThan(3);
    // The SDK gave `echo('after')` the sequence id the shim had given a duplicate of slow(300).
    expect((s.output as { after: unknown }).after).toBe(300);
  });

  it('fails the instance by default, naming the tasks, the pattern and the fix, before scheduling anything twice', async () => {
    const before = state.calls.slow ?? 0;
    const id = strict.startNew('relistAny', { input: [300, 30, 600] });
    const s = await strict.waitForInstance(id, { timeoutInMs: 20_000 });
    expect(s.runtimeStatus).toBe('Failed');
    expect(String(s.output)).toMatch(
      /^Orchestrator "relistAny" yielded a new Task\.any\/Task\.all over tasks it had already scheduled: CallActivity\("slow"\) \(task #0 listed again as #3\), CallActivity\("slow"\) \(task #2 listed again as #4\)\./,
    );
    expect(String(s.output)).toMatch(/azure-functions-durable-js#574/);
    expect(String(s.output)).toMatch(/Fix: yield each task in exactly one Task\.any\/Task\.all/);
    const scheduled = (strict.getTimeline(id) ?? []).filter((e) => e.event === 'TaskScheduled');
    expect(scheduled).toHaveLength(3);
    expect((state.calls.slow ?? 0) - before).toBe(3);
  });
});

describe('local host: the extension\'s limits', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(() => host?.stop());

  it('fails an orchestration whose custom status is over 16 KB of UTF-16, with the extension\'s message', async () => {
    const ok = await host.waitForInstance(host.startNew('bigStatus', { input: 8 * 1024 }));
    expect(ok.runtimeStatus).toBe('Completed');
    const s = await host.waitForInstance(host.startNew('bigStatus', { input: 9 * 1024 }));
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe('The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 18 KB.');
  });

  it('fails a parent that starts a sub-orchestration under the id of a running instance, and leaves that instance alone', async () => {
    const running = host.startNew('approvalChild', { instanceId: 'busy-child' });
    await new Promise((r) => setTimeout(r, 200));
    const s = await host.waitForInstance(host.startNew('fixedIdParent', { input: 'busy-child' }));
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(/started sub-orchestration 'approvalChild' with instance id 'busy-child', which belongs to a Running instance of 'approvalChild'\. On Azure Storage this silently replaces the running instance/);
    expect(host.getInstance(running)?.runtimeStatus).toBe('Running');
    host.raiseEvent(running, 'go', 'yes');
    expect((await host.waitForInstance(running)).output).toBe('yes');
  });

  it('refuses a sub-orchestration with its parent\'s own id, as the extension does', async () => {
    const s = await host.waitForInstance(host.startNew('fixedIdParent', { instanceId: 'self-parent', input: 'SELF-PARENT' }));
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe('The instance ID of a sub-orchestration must be different than the instance ID of a parent orchestration.');
  });

  it('fails a call to an unregistered activity with the extension\'s message, listing the known ones', async () => {
    const s = await host.waitForInstance(host.startNew('unknownActivity'));
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(/^The function 'noSuchActivity' doesn't exist, is disabled, or is not an activity function\. Additional info: The following are the known activity functions: 'hello'/);
  });

  it('splits a timer past the backend maximum (6 days) into 3-day pieces, the first one created now', async () => {
    const id = host.startNew('longTimer', { input: 7 });
    await new Promise((r) => setTimeout(r, 300));
    const timers = (host.getTimeline(id) ?? []).filter((e) => e.event === 'TimerCreated');
    expect(timers).toHaveLength(1);
    expect(host.getInstance(id)?.runtimeStatus).toBe('Running');
    const t = timers[0] as { time: string; fireAt?: string };
    const days = (Date.parse(t.fireAt!) - Date.parse(t.time)) / 86_400_000;
    expect(days).toBeCloseTo(3, 3);
    host.terminate(id, 'test over');
  });
});
