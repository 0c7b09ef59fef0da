/**
 * The compute adapter: VMs over @azure/arm-compute, their network over @azure/arm-network (see
 * network.ts), resource groups over the same ARM pipeline. It knows nothing of orchestrations;
 * clients and credentials come in by injection, so the same code runs against Azure and the local
 * ARM emulator.
 *
 * Throttling: every write's initial request passes a small semaphore (maxConcurrentWrites);
 * long-running operations poll at `pollIntervalInMs`, or after ARM's Retry-After on LRO responses
 * when it sends one above 0 (bounded by maxLroPollSeconds); 429 + Retry-After and 5xx are retried by the SDK pipeline (retry.maxRetries, default 8).
 * A warm `ensureVm` on a running VM makes one read: the VM with its instance view (its addresses are
 * kept in the VM's tags `lcm-public-ip` / `lcm-private-ip` at creation: a Static public IP and the
 * NIC's private IP do not change while the VM exists; without those tags one more read of the NIC).
 */
import { armRateLimitPolicy, DEFAULT_ARM_LIMITS, type ArmRateLimits, type SharedBudget } from './arm-rate-limit.js';
import { ArmRetryAfterError, armRetryAfterCapPolicy, DEFAULT_MAX_LRO_POLL_SECONDS, DEFAULT_MAX_RETRY_AFTER_SECONDS } from './arm-throttle.js';
import https from 'node:https';
import { ComputeManagementClient, isRestError, type VirtualMachine } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { VmSpec } from '../platform/topology.js';
import { isReservedAdminName, sshPublicKeyProblem } from '../platform/vm-rules.js';
import { explainCredentialError, isCredentialError, SIGN_IN_HELP } from './credentials.js';
import { ensureVmNetwork, readVmAddresses, vmNetworkNames, type ArmCaller, type NetworkSettings } from './network.js';

export { vmNetworkNames, type NetworkSettings, type VmNetworkNames } from './network.js';

// ---------------------------------------------------------------- clients

export interface ComputeClientsOptions {
  subscriptionId: string;
  credential: TokenCredential;
  /** ARM endpoint; default the public cloud (https://management.azure.com). */
  endpoint?: string;
  /** PEM certificate to trust for `endpoint` (the local emulator's); passed as the pipeline's https agent. */
  caCert?: string;
  /** SDK pipeline retries (429 with Retry-After, 408, 5xx, connection errors). */
  retry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Client-side pacing shared by both clients (default: under ARM's per-subscription budgets). */
  rateLimits?: ArmRateLimits;
  /** How the processes sharing this principal slow down when ARM reports its budget low. */
  sharedBudget?: SharedBudget;
  /** Longest Retry-After the SDK may wait out inside a call; longer ones fail with ArmRetryAfterError (default 60 s). */
  maxRetryAfterSeconds?: number;
  /** Longest pause between polls of a long-running operation: ARM's Retry-After is honoured up to it (default 60 s). */
  maxLroPollSeconds?: number;
}

export interface ComputeClients {
  subscriptionId: string;
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
}

export const DEFAULT_MAX_RETRIES = 8;

export function createComputeClients(options: ComputeClientsOptions): ComputeClients {
  const agent = options.caCert ? new https.Agent({ ca: options.caCert, keepAlive: true }) : undefined;
  const retryOptions = {
    maxRetries: options.retry?.maxRetries ?? DEFAULT_MAX_RETRIES,
    ...(options.retry?.retryDelayInMs !== undefined ? { retryDelayInMs: options.retry.retryDelayInMs } : {}),
    ...(options.retry?.maxRetryDelayInMs !== undefined ? { maxRetryDelayInMs: options.retry.maxRetryDelayInMs } : {}),
  };
  // One pacing policy for both clients: they draw on the same subscription budget.
  const pacing = armRateLimitPolicy(options.rateLimits ?? DEFAULT_ARM_LIMITS, undefined, options.sharedBudget);
  // Both perRetry: each attempt is paced, and a long Retry-After is seen before the SDK would sleep it.
  const cap = armRetryAfterCapPolicy(options.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS, options.maxLroPollSeconds ?? DEFAULT_MAX_LRO_POLL_SECONDS);
  const common = {
    ...(agent ? { agent } : {}),
    retryOptions,
    additionalPolicies: [
      { policy: pacing, position: 'perRetry' as const },
      { policy: cap, position: 'perRetry' as const },
    ],
  };
  const compute = new ComputeManagementClient(options.credential, options.subscriptionId, {
    ...common,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  // arm-network builds URLs from $host and sends to `endpoint`: set both.
  const network = new NetworkManagementClient(options.credential, options.subscriptionId, {
    ...common,
    ...(options.endpoint ? { endpoint: options.endpoint, $host: options.endpoint } : {}),
  });
  return { subscriptionId: options.subscriptionId, compute, network };
}

// ---------------------------------------------------------------- errors

const HINTS: Array<[RegExp, string]> = [
  [/^(AllocationFailed|ZonalAllocationFailed|OverconstrainedAllocationRequest|OverconstrainedZonalAllocationRequest|SkuNotAvailable)$/, 'try another size or region'],
  [/Quota/i, 'request a quota increase for this VM family and region, or use a smaller size'],
  [/^TooManyRequests$/, 'ARM kept throttling beyond the retry budget; wait a few minutes and retry'],
  [/^(AuthorizationFailed|LinkedAuthorizationFailed)$/, "grant the LCM's identity the Contributor role on the resource group"],
  [/^(AuthenticationFailed|InvalidAuthenticationToken|ExpiredAuthenticationToken)$/, SIGN_IN_HELP],
  [/^ResourceGroupNotFound$/, 'create the resource group first (ensureResourceGroup) or fix azure.resourceGroup in the topology'],
  [/^(OperationNotAllowed|Conflict|AnotherOperationInProgress)$/, 'another operation on it is in progress; retry when it has finished'],
  [/^(InvalidParameter|InvalidRequestContent|PropertyChangeNotAllowed)$/, 'check the VM definition in the topology (size, image, admin user, SSH public key)'],
  [/^VMPowerO(n|ff)Failed$/, 'check the VM host (locally: the VM fleet) and retry'],
];

/** A failed ARM step: names the target, the step and the ARM code, and says what to do. */
export class ArmOperationError extends Error {
  constructor(
    /** e.g. `vm "vm-apps"` or `resource group "lcm-rg"`. */
    readonly target: string,
    readonly step: string,
    readonly code: string,
    readonly detail: string,
    readonly statusCode?: number,
    /** ARM asked to wait this long before retrying (a throttled call the orchestration should wait out). */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${target}: ${step} failed: ${code}: ${detail} — ${retryAfterSeconds !== undefined ? `ARM asks to retry after ${retryAfterSeconds} s` : hintFor(code, target)}`);
    this.name = 'ArmOperationError';
  }
}

function hintFor(code: string, target: string): string {
  for (const [pattern, hint] of HINTS) if (pattern.test(code)) return hint;
  return `see the activity log of ${target} in the Azure portal and retry`;
}

/** Converts SDK errors (RestError, a failed LRO, identity errors) into errors a person can act on. */
export function toArmError(err: unknown, target: string, step: string): unknown {
  if (err instanceof ArmOperationError) return err;
  if (isCredentialError(err)) return explainCredentialError(err, `${step} of ${target}`);
  const capped = retryAfterCause(err);
  if (capped) return new ArmOperationError(target, step, capped.code, capped.message.replace(/ \(ARM asks to retry after \d+ s\)$/, ''), capped.statusCode, capped.retryAfterSeconds);
  if (isRestError(err)) {
    const fromBody = bodyError(err.response?.bodyAsText ?? undefined);
    const code = fromBody?.code ?? err.code ?? `HTTP${err.statusCode ?? ''}`;
    return new ArmOperationError(target, step, code, oneLine(fromBody?.message ?? err.message), err.statusCode);
  }
  if (err instanceof Error) {
    // core-lro: "The long-running operation has failed. <code>. <message>"
    const lro = /long-running operation has failed\. ([A-Za-z0-9_.]+)\. ([\s\S]*)$/.exec(err.message);
    if (lro) return new ArmOperationError(target, step, lro[1]!, oneLine(lro[2]!));
    if (/long-running operation has failed/.test(err.message)) return new ArmOperationError(target, step, 'OperationFailed', oneLine(err.message));
    return new ArmOperationError(target, step, err.name === 'Error' ? 'Unknown' : err.name, oneLine(err.message));
  }
  return new ArmOperationError(target, step, 'Unknown', String(err));
}

/** The pipeline may wrap a policy's error (a poller's, a RestError's cause): find ours. */
function retryAfterCause(err: unknown): ArmRetryAfterError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ArmRetryAfterError) return e;
  }
  return undefined;
}

function bodyError(text: string | undefined): { code?: string; message?: string } | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return parsed.error;
  } catch {
    return undefined;
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

const isNotFound = (err: unknown): boolean => isRestError(err) && err.statusCode === 404;

/**
 * Busy rather than wrong: another operation on the same resource runs (409), Network's 429
 * RetryableError (RetryableErrorDueToAnotherOperation, ReferencedResourceNotProvisioned) when the
 * SDK had no Retry-After to wait on, or Compute ended the older operation OperationPreempted.
 * The caller re-reads the resource and decides again. A throttled call with a long Retry-After is
 * not busy: it goes to the orchestration (retryAfterSeconds).
 */
export const BUSY_CODES: ReadonlySet<string> = new Set([
  'AnotherOperationInProgress',
  'RetryableError',
  'RetryableErrorDueToAnotherOperation',
  'ReferencedResourceNotProvisioned',
  'OperationPreempted',
]);

const isConflict = (err: unknown): boolean =>
  err instanceof ArmOperationError &&
  err.retryAfterSeconds === undefined &&
  ((err.statusCode === 409 && ['OperationNotAllowed', 'Conflict', 'AnotherOperationInProgress'].includes(err.code)) || BUSY_CODES.has(err.code));

// ---------------------------------------------------------------- adapter

export type VmPowerState = 'creating' | 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown';

export interface VmRef {
  resourceGroup: string;
  name: string;
}

export interface LroOptions {
  /** Poll interval of long-running operations (default: the adapter's pollIntervalInMs). */
  pollIntervalInMs?: number;
}

export interface EnsureVmInput {
  resourceGroup: string;
  location: string;
  vm: Pick<VmSpec, 'name' | 'size' | 'image' | 'adminUser'> & Partial<Pick<VmSpec, 'sshKeySecret'>>;
  /** OpenSSH public key (`ssh-ed25519 AAAA...` / `ssh-rsa AAAA...`): the only way into the VM. */
  publicKey: string;
  tags?: Record<string, string>;
  /** TCP ports its network security group opens besides SSH, when the VM is created. */
  inboundPorts?: number[];
  /**
   * The VM's customData (base64, e.g. a cloud-config with its SSH host keys), asked for only when
   * the VM is created (`recreate`: a Failed VM is created again in place). It may hold secrets: it is
   * made by the caller inside its activity, and ARM never returns it.
   */
  customData?: (options: { recreate: boolean }) => Promise<string>;
}

export interface EnsureVmResult {
  name: string;
  publicIp: string;
  privateIp: string;
  powerState: VmPowerState;
  /** This call created (or re-created a Failed) VM. */
  created: boolean;
  /** This call started the VM (a create starts it too). */
  started: boolean;
}

export interface VmState {
  exists: boolean;
  powerState: VmPowerState;
  provisioningState?: string;
  publicIp?: string;
  privateIp?: string;
  /** The error of a Failed VM (from its instance view). */
  error?: { code: string; message?: string };
}

export interface ComputeAdapterOptions {
  clients: ComputeClients;
  /** Poll interval of long-running operations; default 2000 ms (tests pass small values). */
  pollIntervalInMs?: number;
  /** At most this many ARM write requests in flight at once; default 4. */
  maxConcurrentWrites?: number;
  /** How long ensureVm waits for a VM (or network resource) another operation is changing; default 30 min. */
  settleTimeoutInMs?: number;
  network?: NetworkSettings;
}

export const TAG_PUBLIC_IP = 'lcm-public-ip';
export const TAG_PRIVATE_IP = 'lcm-private-ip';
const RESOURCE_GROUP_API_VERSION = '2021-04-01';
const OPENSSH_PUBLIC_KEY = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const TRANSITIONAL_PROVISIONING = new Set(['Creating', 'Updating', 'Deleting', 'Migrating']);
const TRANSITIONAL_POWER = new Set<VmPowerState>(['creating', 'starting', 'stopping', 'deallocating']);
const KNOWN_POWER = new Set<VmPowerState>(['starting', 'running', 'stopping', 'stopped', 'deallocating', 'deallocated']);

export class ComputeAdapter {
  private readonly clients: ComputeClients;
  private readonly pollIntervalInMs: number;
  private readonly settleTimeoutInMs: number;
  private readonly network: NetworkSettings;
  private readonly writes: Semaphore;
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(options: ComputeAdapterOptions) {
    this.clients = options.clients;
    this.pollIntervalInMs = options.pollIntervalInMs ?? 2000;
    this.settleTimeoutInMs = options.settleTimeoutInMs ?? 30 * 60 * 1000;
    this.network = options.network ?? {};
    this.writes = new Semaphore(options.maxConcurrentWrites ?? 4);
  }

  /** Creates the resource group when missing (one read when it exists). */
  async ensureResourceGroup(input: { resourceGroup: string; location: string; tags?: Record<string, string> }): Promise<{ created: boolean }> {
    const target = `resource group "${input.resourceGroup}"`;
    const path = `/subscriptions/${encodeURIComponent(this.clients.subscriptionId)}/resourcegroups/${encodeURIComponent(input.resourceGroup)}`;
    const existing = await this.armRequest(target, 'read', 'GET', path);
    if (existing.status === 200) return { created: false };
    try {
      await this.writes.run(() => this.armRequest(target, 'create', 'PUT', path, { location: input.location, ...(input.tags ? { tags: input.tags } : {}) }));
    } catch (err) {
      // The app's identity holds roles on its resource group only: it cannot create one on Azure.
      if (err instanceof ArmOperationError && /^(AuthorizationFailed|LinkedAuthorizationFailed)$/.test(err.code)) {
        throw new ArmOperationError(target, 'create', err.code, `${err.detail} — the LCM's identity cannot create resource groups: run bootstrap-cli deploy (it creates the group with your credentials) or az group create`, err.statusCode);
      }
      throw err;
    }
    return { created: true };
  }

  /**
   * Makes the VM exist and run. Missing: network (vnet/subnet, NSG, public IP, NIC) then the VM with
   * SSH key auth only. Stopped or deallocated: start it (one write). Running: one read, no write.
   * Busy (creating, starting, stopping...): waits for it to settle, then decides.
   */
  async ensureVm(input: EnsureVmInput, options: LroOptions = {}): Promise<EnsureVmResult> {
    const name = input.vm.name;
    checkPublicKey(name, input.publicKey, input.vm.sshKeySecret);
    if (isReservedAdminName(input.vm.adminUser)) {
      throw new Error(`vm "${name}": ensure failed: admin user "${input.vm.adminUser}" is a name Azure refuses (reserved); set vms[].adminUser to another name, e.g. azureuser`);
    }
    const deadline = Date.now() + this.settleTimeoutInMs;
    for (;;) {
      const vm = await this.readVm(input.resourceGroup, name);
      if (!vm || vm.provisioningState === 'Failed') {
        try {
          return await this.createVm(input, options, vm !== undefined);
        } catch (err) {
          // A concurrent run of this activity got there first: wait for it, then look again.
          if (!isConflict(err)) throw err;
          await this.settle(`vm "${name}"`, 'wait for a concurrent create', deadline, options);
          continue;
        }
      }
      const power = powerStateOf(vm);
      if (TRANSITIONAL_PROVISIONING.has(vm.provisioningState ?? '') || TRANSITIONAL_POWER.has(power)) {
        // Another operation (a concurrent run of this activity, an operator) is changing it.
        await this.settle(`vm "${name}"`, `wait while ${vm.provisioningState ?? 'unknown'}/${power}`, deadline, options);
        continue;
      }
      let started = false;
      if (power !== 'running') {
        try {
          await this.lro(name, 'start', () => this.clients.compute.virtualMachines.start(input.resourceGroup, name, this.lroOptions(options)));
        } catch (err) {
          if (!isConflict(err)) throw err;
          await this.settle(`vm "${name}"`, 'wait for a concurrent operation', deadline, options);
          continue;
        }
        started = true;
      }
      const addresses = await this.addresses(input.resourceGroup, vm);
      if (!addresses.publicIp || !addresses.privateIp) {
        throw new ArmOperationError(`vm "${name}"`, 'read addresses', 'NoAddress', 'the VM has no public or private IP address', undefined);
      }
      return { name, publicIp: addresses.publicIp, privateIp: addresses.privateIp, powerState: 'running', created: false, started };
    }
  }

  /** One read (VM with instance view), plus one NIC read when the VM has no address tags. */
  async getVmState(ref: VmRef): Promise<VmState> {
    const vm = await this.readVm(ref.resourceGroup, ref.name);
    if (!vm) return { exists: false, powerState: 'unknown' };
    const addresses = await this.addresses(ref.resourceGroup, vm);
    const failed = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('ProvisioningState/failed'));
    return {
      exists: true,
      powerState: powerStateOf(vm),
      provisioningState: vm.provisioningState,
      ...addresses,
      ...(failed ? { error: { code: failed.code!.split('/')[2] ?? 'Unknown', message: failed.message } } : {}),
    };
  }

  async startVm(ref: VmRef, options: LroOptions = {}): Promise<void> {
    await this.lro(ref.name, 'start', () => this.clients.compute.virtualMachines.start(ref.resourceGroup, ref.name, this.lroOptions(options)));
  }

  async restartVm(ref: VmRef, options: LroOptions = {}): Promise<void> {
    await this.lro(ref.name, 'restart', () => this.clients.compute.virtualMachines.restart(ref.resourceGroup, ref.name, this.lroOptions(options)));
  }

  /** Stops the VM; it keeps its compute allocation (and is still billed). */
  async powerOffVm(ref: VmRef, options: LroOptions = {}): Promise<void> {
    await this.lro(ref.name, 'power off', () => this.clients.compute.virtualMachines.powerOff(ref.resourceGroup, ref.name, this.lroOptions(options)));
  }

  /** Stops the VM and releases its compute allocation (not billed for compute). */
  async deallocateVm(ref: VmRef, options: LroOptions = {}): Promise<void> {
    await this.lro(ref.name, 'deallocate', () => this.clients.compute.virtualMachines.deallocate(ref.resourceGroup, ref.name, this.lroOptions(options)));
  }

  /** Deletes the VM (its NIC, public IP and OS disk go with it by deleteOption), then its NSG. */
  async deleteVm(ref: VmRef, options: LroOptions = {}): Promise<void> {
    await this.lro(ref.name, 'delete', () => this.clients.compute.virtualMachines.delete(ref.resourceGroup, ref.name, this.lroOptions(options)));
    const names = vmNetworkNames(ref.resourceGroup, ref.name, this.network);
    const lro = this.lroOptions(options);
    const network = this.clients.network;
    // Leftovers when the VM was created elsewhere without deleteOption; a missing one answers 204.
    await this.caller(ref.name).write(`network interface "${names.nic}" delete`, () => network.networkInterfaces.beginDelete(ref.resourceGroup, names.nic, lro));
    await Promise.all([
      this.caller(ref.name).write(`public IP "${names.publicIp}" delete`, () => network.publicIPAddresses.beginDelete(ref.resourceGroup, names.publicIp, lro)),
      this.caller(ref.name).write(`network security group "${names.nsg}" delete`, () => network.networkSecurityGroups.beginDelete(ref.resourceGroup, names.nsg, lro)),
    ]);
  }

  // ------------------------------------------------------------ internals

  private async createVm(input: EnsureVmInput, options: LroOptions, existed: boolean): Promise<EnsureVmResult> {
    const { resourceGroup: rg, vm: spec } = input;
    const pollIntervalInMs = options.pollIntervalInMs ?? this.pollIntervalInMs;
    const tags = { ...input.tags, 'lcm-vm': spec.name };
    const net = await ensureVmNetwork(this.clients.network, this.caller(spec.name), {
      resourceGroup: rg,
      location: input.location,
      vmName: spec.name,
      tags,
      settings: this.network,
      pollIntervalInMs,
      inboundPorts: input.inboundPorts,
    });
    const customData = await input.customData?.({ recreate: existed });
    const model: VirtualMachine = {
      location: input.location,
      tags: { ...tags, [TAG_PUBLIC_IP]: net.publicIp, [TAG_PRIVATE_IP]: net.privateIp },
      hardwareProfile: { vmSize: spec.size },
      storageProfile: {
        imageReference: { publisher: spec.image.publisher, offer: spec.image.offer, sku: spec.image.sku, version: spec.image.version },
        osDisk: { name: `${spec.name}-osdisk`, createOption: 'FromImage', deleteOption: 'Delete', managedDisk: { storageAccountType: 'StandardSSD_LRS' } },
      },
      osProfile: {
        computerName: spec.name,
        adminUsername: spec.adminUser,
        ...(customData !== undefined ? { customData } : {}),
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          provisionVMAgent: true,
          ssh: { publicKeys: [{ path: `/home/${spec.adminUser}/.ssh/authorized_keys`, keyData: input.publicKey.trim() }] },
        },
      },
      networkProfile: { networkInterfaces: [{ id: net.nicId, primary: true, deleteOption: 'Delete' }] },
    };
    await this.lro(spec.name, existed ? 're-create (the VM was Failed)' : 'create', () =>
      this.clients.compute.virtualMachines.createOrUpdate(rg, spec.name, model, { updateIntervalInMs: pollIntervalInMs }),
    );
    if (existed) {
      // On a VM that exists (Failed) the PUT is an update: it may leave the VM deallocated. Read it back.
      const after = await this.readVm(rg, spec.name);
      if (!after) throw new ArmOperationError(`vm "${spec.name}"`, 're-create (the VM was Failed)', 'ResourceNotFound', 'the VM is gone after its update; run the operation again', 404);
      if (powerStateOf(after) !== 'running') {
        await this.lro(spec.name, 'start after re-create', () => this.clients.compute.virtualMachines.start(rg, spec.name, this.lroOptions(options)));
      }
    }
    return { name: spec.name, publicIp: net.publicIp, privateIp: net.privateIp, powerState: 'running', created: true, started: true };
  }

  private async readVm(resourceGroup: string, name: string): Promise<VirtualMachine | undefined> {
    return this.caller(name).read('read', () => this.clients.compute.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' }));
  }

  private async addresses(resourceGroup: string, vm: VirtualMachine): Promise<{ publicIp?: string; privateIp?: string }> {
    const publicIp = vm.tags?.[TAG_PUBLIC_IP];
    const privateIp = vm.tags?.[TAG_PRIVATE_IP];
    if (publicIp && privateIp) return { publicIp, privateIp };
    const nicId = vm.networkProfile?.networkInterfaces?.find((n) => n.primary)?.id ?? vm.networkProfile?.networkInterfaces?.[0]?.id;
    const nicName = nicId?.split('/').pop() ?? vmNetworkNames(resourceGroup, vm.name ?? '', this.network).nic;
    return readVmAddresses(this.clients.network, this.caller(vm.name ?? ''), resourceGroup, nicName);
  }

  private lroOptions(options: LroOptions): { updateIntervalInMs: number } {
    return { updateIntervalInMs: options.pollIntervalInMs ?? this.pollIntervalInMs };
  }

  /** Runs a compute LRO: the initial request under the write bound, the polling outside it. */
  private async lro<T>(vmName: string, step: string, begin: () => { submitted(): Promise<void>; pollUntilDone(): Promise<T> }): Promise<T> {
    return this.caller(vmName).write(step, async () => {
      const poller = begin();
      await poller.submitted();
      return { pollUntilDone: () => poller.pollUntilDone() };
    });
  }

  private async settle(target: string, step: string, deadline: number, options: LroOptions): Promise<void> {
    if (Date.now() >= deadline) {
      throw new ArmOperationError(target, step, 'SettleTimeout', `still changing after ${Math.round(this.settleTimeoutInMs / 1000)} s`, undefined);
    }
    await delay(options.pollIntervalInMs ?? this.pollIntervalInMs);
  }

  private caller(vmName: string): ArmCaller {
    const target = `vm "${vmName}"`;
    const deadline = Date.now() + this.settleTimeoutInMs;
    return {
      read: async (step, fn) => {
        try {
          return await fn();
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw toArmError(err, target, step);
        }
      },
      write: async (step, begin) => {
        try {
          // Keep the poller in an object: a thenable returned from run() would be awaited inside the bound.
          const { poller } = await this.writes.run(async () => ({ poller: await begin() }));
          return await poller.pollUntilDone();
        } catch (err) {
          throw toArmError(err, target, step);
        }
      },
      once: <T>(key: string, fn: () => Promise<T>): Promise<T> => {
        const running = this.inflight.get(key) as Promise<T> | undefined;
        if (running) return running;
        const promise = fn().finally(() => this.inflight.delete(key));
        this.inflight.set(key, promise);
        return promise;
      },
      settle: (step) => this.settle(target, step, deadline, {}),
      codeOf: (err) => (err instanceof ArmOperationError ? err.code : undefined),
      isBusy: (err) => isConflict(err),
    };
  }

  /** A raw ARM request through the network client's pipeline (auth, retries, agent) for resource groups. */
  private async armRequest(target: string, step: string, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number }> {
    const base = this.clients.network.$host.replace(/\/$/, '');
    const request = createPipelineRequest({
      url: `${base}${path}?api-version=${RESOURCE_GROUP_API_VERSION}`,
      method,
      headers: createHttpHeaders({ accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) }),
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    let response;
    try {
      response = await this.clients.network.sendRequest(request);
    } catch (err) {
      throw toArmError(err, target, step);
    }
    if (method === 'GET' && response.status === 404) return { status: 404 };
    if (response.status >= 200 && response.status < 300) return { status: response.status };
    const error = bodyError(response.bodyAsText ?? undefined);
    throw new ArmOperationError(target, step, error?.code ?? `HTTP${response.status}`, oneLine(error?.message ?? `ARM answered ${response.status}`), response.status);
  }
}

function powerStateOf(vm: VirtualMachine): VmPowerState {
  const code = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code;
  const power = code?.slice('PowerState/'.length) as VmPowerState | undefined;
  if (power && KNOWN_POWER.has(power)) return power;
  return vm.provisioningState === 'Creating' ? 'creating' : 'unknown';
}

function checkPublicKey(vmName: string, key: string, secretName?: string): void {
  // Never echo the value: it might be a private key pasted in the wrong place.
  if (/PRIVATE KEY/.test(key)) {
    throw new Error(
      `vm "${vmName}": ensure failed: the SSH key passed is a PRIVATE key — pass the OpenSSH public key (ssh-ed25519 AAAA... or ssh-rsa AAAA...)` +
        (secretName ? `; the private key stays in app setting "${secretName}"` : ''),
    );
  }
  if (!OPENSSH_PUBLIC_KEY.test(key.trim())) {
    throw new Error(`vm "${vmName}": ensure failed: the SSH public key is not in OpenSSH format (expected "ssh-ed25519 AAAA..." or "ssh-rsa AAAA...")`);
  }
  // Azure refuses ECDSA and short RSA keys at create time; say so before any network is made.
  const problem = sshPublicKeyProblem(key);
  if (problem) {
    throw new Error(`vm "${vmName}": ensure failed: the SSH public key${secretName ? ` of app setting "${secretName}"` : ''} ${problem}`);
  }
}

class Semaphore {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`maxConcurrentWrites must be a positive integer, got ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
