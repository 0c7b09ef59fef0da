/**
 * Three workers sharing one principal's ARM budget: the emulator enforces a (small) budget and
 * reports what remains; the workers' pacing, fed back by x-ms-ratelimit-remaining-*, keeps them
 * from draining it. The same load without the feedback (a control in the same run) is throttled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeAdapter, createComputeClients } from '../../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../../functions/cloud/credentials.js';
import { LoopbackPool } from '../../../local/azure/addresses.js';
import { LOCAL_RETRY_AFTER_SCALE, startArmEmulator, type ArmEmulator } from '../../../local/azure/arm/index.js';
import { generateLocalTls, type LocalTls } from '../../../local/azure/tls.js';
import { LOCATION, publicKeyLine, RecordingHooks, SUBSCRIPTION, vmSpec } from './harness.js';
import { hang } from '../../helpers/hang-guard.js';

const RG = 'rg-budget';

describe('ARM budget shared by 3 workers', () => {
  let tls: LocalTls;
  let arm: ArmEmulator;

  beforeAll(async () => {
    tls = generateLocalTls();
    // ARM's shape at a tenth of its size: 30 reads, refilled 6 per second.
    arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks: new RecordingHooks(), retryAfterScale: LOCAL_RETRY_AFTER_SCALE, rateLimit: { readBurst: 30, readsPerSecond: 6, enforce: true } });
    const setup = worker(false);
    await setup.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
    await setup.ensureVm({ resourceGroup: RG, location: LOCATION, vm: vmSpec('vm-a'), publicKey: publicKeyLine() });
  }, hang(30_000));
  afterAll(async () => {
    await arm?.stop();
  });

  function worker(feedback: boolean): ComputeAdapter {
    const clients = createComputeClients({
      subscriptionId: SUBSCRIPTION,
      credential: staticTokenCredential(),
      endpoint: arm.endpoint,
      caCert: tls.cert,
      rateLimits: { readsPerSecond: 100, readBurst: 100, writesPerSecond: 100, writeBurst: 100 },
      sharedBudget: feedback ? { workers: 3, readLowWater: 15, writeLowWater: 15, armReadsPerSecond: 6, armWritesPerSecond: 6 } : { workers: 1, readLowWater: 0, writeLowWater: 0, armReadsPerSecond: 6, armWritesPerSecond: 6 },
    });
    return new ComputeAdapter({ clients, pollIntervalInMs: 10 });
  }

  async function load(feedback: boolean): Promise<number> {
    // Let the budget refill, then 3 workers read 14 times each.
    await new Promise((r) => setTimeout(r, 5_500));
    arm.log.reset();
    const workers = [worker(feedback), worker(feedback), worker(feedback)];
    await Promise.all(workers.map(async (w) => {
      for (let i = 0; i < 14; i++) await w.getVmState({ resourceGroup: RG, name: 'vm-a' });
    }));
    return arm.log.counts().throttled;
  }

  it('with the feedback the workers are throttled less than without it', async () => {
    const without = await load(false);
    const withFeedback = await load(true);
    expect(without).toBeGreaterThan(0);
    expect(withFeedback).toBeLessThan(without);
    expect(withFeedback).toBeLessThanOrEqual(2);
  }, hang(90_000));
});
