/**
 * Test harness: the ARM emulator with recording power hooks, and the real SDK clients + adapter
 * pointed at it over HTTPS.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createHttpHeaders, createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { LoopbackPool } from '../../../local/azure/addresses.js';
import { generateLocalTls, type LocalTls } from '../../../local/azure/tls.js';
import type { PowerOffReason, VmPowerHooks, VmPowerOn } from '../../../local/azure/types.js';
import { LOCAL_RETRY_AFTER_SCALE, startArmEmulator, type ArmEmulator, type ArmEmulatorOptions } from '../../../local/azure/arm/index.js';
import { ComputeAdapter, createComputeClients, type ComputeClients } from '../../../functions/cloud/compute.js';
import { staticTokenCredential } from '../../../functions/cloud/credentials.js';
import type { VmSpec } from '../../../functions/platform/topology.js';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
export const LOCATION = 'westeurope';

export type HookCall = { type: 'powerOn'; vm: VmPowerOn; stateSeen?: string } | { type: 'powerOff'; name: string; reason: PowerOffReason; stateSeen?: string };

/** Records every hook call, with the power state the emulator reported at that moment. */
export class RecordingHooks implements VmPowerHooks {
  readonly calls: HookCall[] = [];
  failNextPowerOn?: Error;
  observe?: (name: string) => string | undefined;

  async powerOn(vm: VmPowerOn): Promise<void> {
    this.calls.push({ type: 'powerOn', vm, stateSeen: this.observe?.(vm.name) });
    const failure = this.failNextPowerOn;
    this.failNextPowerOn = undefined;
    if (failure) throw failure;
  }

  async powerOff(name: string, reason: PowerOffReason): Promise<void> {
    this.calls.push({ type: 'powerOff', name, reason, stateSeen: this.observe?.(name) });
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/** An OpenSSH ed25519 public key line (the private half is thrown away). */
export function publicKeyLine(comment = 'lcm-test'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

export function vmSpec(name: string): Pick<VmSpec, 'name' | 'size' | 'image' | 'adminUser' | 'sshKeySecret'> {
  return {
    name,
    size: 'Standard_B2s',
    image: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
    adminUser: 'azureuser',
    sshKeySecret: 'VM_SSH_KEY',
  };
}

export interface Harness {
  tls: LocalTls;
  arm: ArmEmulator;
  hooks: RecordingHooks;
  clients: ComputeClients;
  adapter: ComputeAdapter;
  stop(): Promise<void>;
}

export async function startHarness(
  options: Partial<Pick<ArmEmulatorOptions, 'latency' | 'asyncPollDelayInMs' | 'retryAfterScale' | 'onRequest' | 'rateLimit'>> & { maxLroPollSeconds?: number } = {},
): Promise<Harness> {
  const tls = generateLocalTls();
  const hooks = new RecordingHooks();
  const { maxLroPollSeconds, ...armOptions } = options;
  // Local scale unless a test asks for Azure's values: the emulator's operations take milliseconds.
  const arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks, retryAfterScale: LOCAL_RETRY_AFTER_SCALE, ...armOptions });
  hooks.observe = (name) => arm.getVm('rg-test', name)?.powerState;
  const clients = createComputeClients({
    subscriptionId: SUBSCRIPTION,
    credential: staticTokenCredential(),
    endpoint: arm.endpoint,
    caCert: tls.cert,
    retry: { retryDelayInMs: 20, maxRetryDelayInMs: 200 },
    ...(maxLroPollSeconds !== undefined ? { maxLroPollSeconds } : {}),
  });
  const adapter = new ComputeAdapter({ clients, pollIntervalInMs: 10, maxConcurrentWrites: 4 });
  return { tls, arm, hooks, clients, adapter, stop: () => arm.stop() };
}

/** One raw PUT of a Standard static public IP at `url` through the adapters' pipeline: the response as ARM sent it (headers, body). */
export function putPublicIpRaw(h: Harness, url: string): Promise<PipelineResponse> {
  return h.clients.network.sendRequest(
    createPipelineRequest({
      url,
      method: 'PUT',
      headers: createHttpHeaders({ 'content-type': 'application/json' }),
      body: JSON.stringify({ location: LOCATION, sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static' } }),
    }),
  );
}
