/**
 * Busy and throttled resources as Azure reports them (the emulator's AZURE_ERRORS catalogue),
 * through the real SDK and the compute adapter; and a long Retry-After waited out by the
 * orchestration on a durable timer, not inside an activity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmOperationError } from '../../../functions/cloud/compute.js';
import { AZURE_ERRORS } from '../../../local/azure/arm/index.js';
import { startFixtureHost, type TestHost } from '../host/helpers.js';
import { LOCATION, publicKeyLine, startHarness, vmSpec, type Harness } from './harness.js';
import { hang } from '../../helpers/hang-guard.js';

const RG = 'rg-test';

describe('Azure busy and throttling errors, seen through the real SDK', () => {
  let h: Harness;
  const key = publicKeyLine();

  beforeAll(async () => {
    h = await startHarness();
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("Network's 429 RetryableError (another operation) without Retry-After: the adapter re-reads and retries", async () => {
    h.arm.log.reset();
    h.arm.faults.armError('nic.write', { ...AZURE_ERRORS.networkAnotherOperation(), retryAfterSeconds: undefined });
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-busy-nic'), publicKey: key });
    expect(result.created).toBe(true);
    expect(h.arm.log.entries.filter((e) => e.kind === 'nic.write').map((e) => e.status)).toEqual([429, 201]);
  });

  it("Network's 429 RetryableError (referenced resource not provisioned) with Retry-After: the SDK waits it out", async () => {
    h.arm.log.reset();
    h.arm.faults.armError('nic.write', AZURE_ERRORS.networkReferencedNotProvisioned(1));
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-ref-nic'), publicKey: key });
    expect(result.created).toBe(true);
    expect(h.arm.log.entries.filter((e) => e.kind === 'nic.write').map((e) => e.status)).toEqual([429, 201]);
  });

  it('a create preempted by a newer operation (OperationPreempted) is read back and done again', async () => {
    h.arm.faults.failOperation('vm.create', { vmName: 'vm-preempted', ...AZURE_ERRORS.operationPreempted });
    const result = await h.adapter.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-preempted'), publicKey: key });
    expect(result.created).toBe(true);
    expect(h.arm.getVm(RG, 'vm-preempted')!.powerState).toBe('running');
  });

  it('re-creating a Failed VM: the PUT is an update that leaves it deallocated, so the adapter reads it back and starts it', async () => {
    h.arm.faults.failOperation('vm.create', { vmName: 'vm-failed', code: 'AllocationFailed', message: 'Allocation failed.' });
    const input = { resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-failed'), publicKey: key };
    await expect(h.adapter.ensureVm(input)).rejects.toThrow(/AllocationFailed/);
    expect(h.arm.getVm(RG, 'vm-failed')).toMatchObject({ provisioningState: 'Failed', powerState: 'deallocated' });
    h.arm.log.reset();
    const result = await h.adapter.ensureVm(input);
    expect(result).toMatchObject({ created: true, started: true, powerState: 'running' });
    expect(h.arm.getVm(RG, 'vm-failed')).toMatchObject({ provisioningState: 'Succeeded', powerState: 'running' });
    const writes = h.arm.log.entries.filter((e) => e.kind.startsWith('vm.') && e.kind !== 'vm.read').map((e) => e.kind);
    expect(writes).toEqual(['vm.update', 'vm.start']);
  });

  it("Compute's 429 OperationNotAllowed with Retry-After 1200 s is not slept in the call: it fails at once with retryAfterSeconds", async () => {
    h.arm.faults.armError('vm.read', AZURE_ERRORS.computeThrottled(1200));
    const started = Date.now();
    const error = await h.adapter.getVmState({ resourceGroup: RG, name: 'vm-busy-nic' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ArmOperationError);
    expect((error as ArmOperationError).retryAfterSeconds).toBe(1200);
    expect((error as ArmOperationError).code).toBe('OperationNotAllowed');
    expect((error as Error).message).toMatch(/vm "vm-busy-nic": read failed: OperationNotAllowed: .*ARM asks to retry after 1200 s/);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, hang(20_000));

  it('a short Retry-After (under the cap) is still waited out by the SDK', async () => {
    h.arm.log.reset();
    h.arm.faults.armError('vm.read', AZURE_ERRORS.computeThrottled(1));
    const state = await h.adapter.getVmState({ resourceGroup: RG, name: 'vm-busy-nic' });
    expect(state.powerState).toBe('running');
    expect(h.arm.log.entries.filter((e) => e.kind === 'vm.read').map((e) => e.status)).toEqual([429, 200]);
  });
});

describe('a long Retry-After goes to the orchestration', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startFixtureHost();
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('the activity answers RetryAfter; the orchestration waits on a durable timer and calls again', async () => {
    const id = host.startNew('armRetryAfter', { input: 'vm-a' });
    const status = await host.waitForInstance(id);
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as { result: unknown; waitedMs: number };
    expect(output.result).toEqual({ ok: 'vm-a' });
    expect(output.waitedMs).toBeGreaterThanOrEqual(2000);
  }, hang(30_000));
});
