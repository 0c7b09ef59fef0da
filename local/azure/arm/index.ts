/**
 * A local Azure Resource Manager endpoint for @azure/arm-compute 24 and @azure/arm-network 36:
 * HTTPS on 127.0.0.1 with the emulators' certificate, ARM-shaped resources kept in memory,
 * long-running operations answered like ARM, a VM power-state machine that drives the VM fleet
 * through VmPowerHooks, fault injection and a request log.
 *
 *   const arm = await startArmEmulator({ tls, pool: new LoopbackPool(), hooks });
 *   const clients = createComputeClients({ subscriptionId, credential: staticTokenCredential(), endpoint: arm.endpoint, caCert: tls.cert });
 *   arm.faults.throttle('vm.read', { count: 1, retryAfterSeconds: 1 });
 *   arm.log.counts(); // { reads, writes, polls, throttled, byKind }
 *   await arm.stop();
 */
import { setMaxListeners } from 'node:events';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AddressPool } from '../addresses.js';
import type { LocalTls } from '../tls.js';
import type { VmPowerHooks } from '../types.js';
import { checkApiVersion } from './api-versions.js';
import { ArmError } from './errors.js';
import { ArmFaults } from './faults.js';
import { checkNames } from './names.js';
import { parsePath, type ParsedPath } from './ids.js';
import { DEFAULT_LATENCY_IN_MS, type OperationKind } from './kinds.js';
import { ArmRequestLog } from './log.js';
import { handleNetwork, isNetworkRef, networkKind, removeNetworkResource } from './network.js';
import { syncInboundRules } from './nsg-rules.js';
import { OperationRunner, sleep } from './operations.js';
import { retryAfterFor } from './retry-after.js';
import { ArmState, asObject, asTags, asString, type JsonObject, type Reply, type VmPowerState, type VmProvisioningState } from './state.js';
import { handleVm, isVmRef, publicKeys, removeVm, vmAddress, vmKind, vmPrivateAddress } from './vms.js';
import { ArmPlatform, type LocalServiceBindings } from './platform.js';

export { OPERATION_KINDS, type OperationKind, type LroKind } from './kinds.js';
export type { ArmLogEntry, ArmLogCounts } from './log.js';
export { ArmRequestLog } from './log.js';
export type { LocalServiceBindings, PlatformResource, DeploymentRecord } from './platform.js';
export type { AppServiceLogEntry, KuduDeployment, SiteRuntime } from './app-service.js';
export { ArmFaults, AZURE_ERRORS, type ThrottleFault, type ServerErrorFault, type OperationFault, type ArmErrorFault } from './faults.js';
export type { VmPowerState, VmProvisioningState } from './state.js';
export { ARM_LRO_RETRY_AFTER, LOCAL_RETRY_AFTER_SCALE, retryAfterFor } from './retry-after.js';

export interface ArmEmulatorOptions {
  tls: LocalTls;
  pool: AddressPool;
  hooks: VmPowerHooks;
  /** Milliseconds per kind: how long an LRO stays InProgress, or how long a read waits before answering. */
  latency?: Partial<Record<OperationKind, number>>;
  /**
   * Every LRO response (the initial 201/202, each poll still running) carries the Retry-After real
   * ARM sends for its provider (retry-after.ts), times this scale, rounded down to whole seconds.
   * Default 1: what Azure sends. Local mode and the tests pass LOCAL_RETRY_AFTER_SCALE (every
   * value rounds to 0, so the clients' own poll intervals rule).
   */
  retryAfterScale?: number;
  /** When set, overrides the providers' values: every LRO response says `Retry-After: ceil(ms / 1000)`. */
  asyncPollDelayInMs?: number;
  /**
   * Sees every request as it arrived (the contract suite holds the adapters' requests to the specs).
   * The body is the parsed JSON, undefined when empty or unreadable; for tests only (a template
   * deployment's body holds its parameters).
   */
  onRequest?: (request: ArmRequestRecord) => void;
  /**
   * ARM's per-subscription budget (token buckets: reads 250 refilled 25/s, writes 200 refilled
   * 10/s). Every response carries `x-ms-ratelimit-remaining-subscription-reads|writes` from it.
   * `enforce: true` answers 429 TooManyRequests with Retry-After once a bucket is empty, as ARM
   * does; off by default (the tests poll at 10 ms, far faster than any real client).
   */
  rateLimit?: { readBurst?: number; readsPerSecond?: number; writeBurst?: number; writesPerSecond?: number; enforce?: boolean };
}

/** A request as the emulator received it. */
export interface ArmRequestRecord {
  method: string;
  path: string;
  apiVersion?: string;
  body?: unknown;
}

/** One subscription's ARM budget, as remaining tokens. */
class ArmBudget {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }
  /** Takes one token; answers what remains (negative: throttled) and the seconds until one is back. */
  take(): { remaining: number; retryAfterSeconds: number } {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return { remaining: -1, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond)) };
    this.tokens -= 1;
    return { remaining: Math.floor(this.tokens), retryAfterSeconds: 0 };
  }
}

/** What the emulator knows of one VM (for tests and the local fleet). */
export interface ArmVmSnapshot {
  name: string;
  resourceGroup: string;
  id: string;
  powerState: VmPowerState;
  provisioningState: VmProvisioningState;
  /** The VM's public IP address. */
  ip?: string;
  /** Its primary NIC's private (VNet) address. */
  privateIp?: string;
  adminUser: string;
  publicKeys: string[];
  vmSize: string;
  tags?: Record<string, string>;
  failure?: { code: string; message: string };
}

export interface ArmEmulator {
  /** https://127.0.0.1:PORT */
  endpoint: string;
  faults: ArmFaults;
  log: ArmRequestLog;
  setLatency(kind: OperationKind, ms: number): void;
  getVm(resourceGroup: string, name: string): ArmVmSnapshot | undefined;
  /** Template deployments, the resources they created, the emulated function apps (platform.ts). */
  platform: ArmPlatform;
  /** Tells the emulator the local Files/Cosmos credentials listKeys hands out, and the emulated App Service's settings. */
  bindLocalServices(bindings: LocalServiceBindings): void;
  /** Closes the listening socket and every connection; operations in flight are abandoned. */
  stop(): Promise<void>;
}

export async function startArmEmulator(options: ArmEmulatorOptions): Promise<ArmEmulator> {
  const latency: Record<OperationKind, number> = { ...DEFAULT_LATENCY_IN_MS, ...options.latency };
  const retryAfterScale = options.retryAfterScale ?? 1;
  if (!Number.isFinite(retryAfterScale) || retryAfterScale < 0) throw new Error(`startArmEmulator: retryAfterScale must be a number >= 0, got ${String(options.retryAfterScale)}`);
  const faults = new ArmFaults();
  const log = new ArmRequestLog();
  const abort = new AbortController();
  // Every pending operation waits on this one signal: many at once is normal here.
  setMaxListeners(0, abort.signal);
  let endpoint = '';
  const ops = new OperationRunner({
    faults,
    latencyOf: (kind) => latency[kind],
    endpoint: () => endpoint,
    retryAfterSeconds: (namespace, phase) =>
      options.asyncPollDelayInMs !== undefined ? Math.max(0, Math.ceil(options.asyncPollDelayInMs / 1000)) : retryAfterFor(namespace, phase, retryAfterScale),
    signal: abort.signal,
  });
  const state = new ArmState(options.pool, options.hooks, ops);
  const limits = { readBurst: 250, readsPerSecond: 25, writeBurst: 200, writesPerSecond: 10, enforce: false, ...options.rateLimit };
  const budgets = new Map<string, { reads: ArmBudget; writes: ArmBudget }>();
  const budgetOf = (sub: string) => {
    let b = budgets.get(sub.toLowerCase());
    if (!b) budgets.set(sub.toLowerCase(), (b = { reads: new ArmBudget(limits.readBurst, limits.readsPerSecond), writes: new ArmBudget(limits.writeBurst, limits.writesPerSecond) }));
    return b;
  };
  const platform = new ArmPlatform(state, ops, options.tls);

  const server = https.createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    void serve(req, res);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const parsed = parsePath(url.pathname);
    let kind: OperationKind = 'unsupported';
    let reply: Reply;
    // ARM counts every request against the subscription's budget, refuses it unprocessed when the
    // budget is empty (when enforced), and says what is left.
    const sub = /^\/subscriptions\/([^/]+)/i.exec(url.pathname)?.[1];
    const isRead = method === 'GET' || method === 'HEAD';
    const taken = sub ? (isRead ? budgetOf(sub).reads : budgetOf(sub).writes).take() : undefined;
    try {
      const raw = await readBody(req);
      if (options.onRequest) options.onRequest({ method, path: url.pathname, apiVersion: url.searchParams.get('api-version') ?? undefined, body: tryJson(raw) });
      kind = classify(parsed, method, url.pathname);
      if (taken && taken.remaining < 0 && limits.enforce) {
        reply = {
          status: 429,
          headers: { 'retry-after': String(taken.retryAfterSeconds) },
          body: { error: { code: 'TooManyRequests', message: `Number of ${isRead ? 'read' : 'write'} requests for subscription '${sub}' exceeded the limit. Please try again after ${taken.retryAfterSeconds} seconds.` } },
        };
      } else reply = await answer(parsed, method, kind, url, raw, req);
    } catch (err) {
      reply = err instanceof ArmError ? { status: err.status, body: err.body() } : { status: 500, body: { error: { code: 'InternalServerError', message: String(err) } } };
    }
    if (taken) reply = { ...reply, headers: { ...reply.headers, [`x-ms-ratelimit-remaining-subscription-${isRead ? 'reads' : 'writes'}`]: String(Math.max(0, taken.remaining)) } };
    log.record({ method, path: url.pathname, kind, status: reply.status, time: started, durationInMs: Date.now() - started });
    send(res, reply);
  }

  function classify(parsed: ParsedPath, method: string, pathname: string): OperationKind {
    if (platform.handles(pathname)) return platform.classify(method, pathname);
    switch (parsed.route) {
      case 'operation':
        return 'operation.poll';
      case 'resourceGroup':
        return method === 'PUT' ? 'resourceGroup.write' : method === 'DELETE' ? 'resourceGroup.delete' : 'resourceGroup.read';
      case 'resource':
        if (isVmRef(parsed.ref)) return vmKind(state, method, parsed.ref);
        if (isNetworkRef(parsed.ref)) return networkKind(method, parsed.ref);
        return 'unsupported';
      default:
        return 'unsupported';
    }
  }

  async function answer(parsed: ParsedPath, method: string, kind: OperationKind, url: URL, raw: string, req: IncomingMessage): Promise<Reply> {
    const auth = req.headers['authorization'];
    if (!auth || !/^Bearer \S+/i.test(auth)) {
      return {
        status: 401,
        headers: { 'www-authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."' },
        body: { error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." } },
      };
    }
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) {
      throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    }
    checkApiVersion(url.pathname, apiVersion);
    checkNames(parsed, method);
    const fault = faults.takeRequestFault(kind);
    if (fault) {
      return {
        status: fault.status,
        headers: fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
        body: { error: { code: fault.code, message: fault.message, ...(fault.details ? { details: fault.details } : {}) } },
      };
    }
    const isRead = method === 'GET' || method === 'HEAD';
    if (isRead) await sleep(latency[kind], abort.signal).catch(() => undefined);
    const body = parseJson(raw);
    if (platform.handles(url.pathname)) return platform.handle(method, url.pathname, body);
    switch (parsed.route) {
      case 'operation':
        return pollOperation(parsed.id, parsed.result);
      case 'resourceGroup':
        return resourceGroup(method, parsed.sub, parsed.rg, body);
      case 'resource':
        if (isVmRef(parsed.ref)) return handleVm(state, method, parsed.ref, body, url.searchParams);
        if (isNetworkRef(parsed.ref)) {
          const reply = await handleNetwork(state, method, parsed.ref, body, url.searchParams);
          // The VMs' fleet enforces the NSGs: hand it what changed, now and when the operation ends.
          if (method !== 'GET') void syncInboundRules(state).then(() => ops.settled()).then(() => syncInboundRules(state)).catch(() => undefined);
          return reply;
        }
        break;
    }
    throw new ArmError(400, 'InvalidResourceType', `The resource path '${url.pathname}' is not modelled by the local ARM emulator.`);
  }

  function pollOperation(id: string, result: boolean): Reply {
    const op = ops.get(id);
    if (!op) throw new ArmError(404, 'OperationNotFound', `Operation ${id} was not found.`);
    if (result) {
      // The Location URL: 202 while running, 200 when done (the SDK GETs it after success).
      if (op.status === 'InProgress') return { status: 202, headers: ops.headers(op, true, 'poll') };
      if (op.status === 'Failed') return { status: 400, body: { error: op.error } };
      return { status: 200 };
    }
    return {
      status: 200,
      // Still running: when to ask again, as ARM says it on each poll.
      ...(op.status === 'InProgress' ? { headers: { 'retry-after': ops.pollRetryAfter(op) } } : {}),
      body: { name: op.id, status: op.status, startTime: op.startTime, ...(op.endTime ? { endTime: op.endTime } : {}), ...(op.error ? { error: op.error } : {}) },
    };
  }

  function resourceGroup(method: string, sub: string, rg: string, body: JsonObject | undefined): Reply {
    const view = (g: { id: string; name: string; location: string; tags?: Record<string, string>; provisioningState: string }) => ({
      id: g.id,
      name: g.name,
      type: 'Microsoft.Resources/resourceGroups',
      location: g.location,
      ...(g.tags ? { tags: g.tags } : {}),
      properties: { provisioningState: g.provisioningState },
    });
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const group = state.resourceGroup(sub, rg);
        if (method === 'HEAD') return { status: group ? 204 : 404 };
        return { status: 200, body: view(state.requireResourceGroup(sub, rg)) };
      }
      case 'PUT': {
        const location = asString(body?.['location']);
        if (!location) throw new ArmError(400, 'LocationRequired', `Resource group '${rg}' needs a location.`);
        const { group, created } = state.putResourceGroup(sub, rg, location, asTags(body?.['tags']));
        return { status: created ? 201 : 200, body: view(group) };
      }
      case 'DELETE': {
        const group = state.resourceGroup(sub, rg);
        if (!group) return { status: 404, body: { error: { code: 'ResourceGroupNotFound', message: `Resource group '${rg}' could not be found.` } } };
        group.provisioningState = 'Deleting';
        const op = ops.start({
          sub,
          namespace: 'Microsoft.Resources',
          location: group.location,
          kind: 'resourceGroup.delete',
          resourceName: rg,
          work: async () => {
            const inGroup = <T extends { sub: string; rg: string }>(r: T) => r.sub.toLowerCase() === sub.toLowerCase() && r.rg.toLowerCase() === rg.toLowerCase();
            for (const vm of [...state.vms.values()].filter(inGroup)) {
              await options.hooks.powerOff(vm.name, 'delete');
              removeVm(state, vm);
            }
            for (const resource of [...state.resources.values()].filter(inGroup)) removeNetworkResource(state, resource);
            state.deleteResourceGroupRecord(sub, rg);
          },
          onFailed: () => {
            group.provisioningState = 'Succeeded';
          },
        });
        const { location, 'retry-after': retryAfter } = ops.headers(op, true);
        return { status: 202, headers: { location: location!, 'retry-after': retryAfter! } };
      }
      default:
        throw new ArmError(405, 'MethodNotAllowed', `${method} is not supported on resource groups.`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    faults,
    log,
    platform,
    bindLocalServices: (bindings) => platform.bind(bindings),
    setLatency(kind, ms) {
      latency[kind] = ms;
    },
    getVm(resourceGroup, name) {
      const vm = [...state.vms.values()].find((v) => v.rg.toLowerCase() === resourceGroup.toLowerCase() && v.name.toLowerCase() === name.toLowerCase());
      if (!vm) return undefined;
      const os = asObject(vm.properties['osProfile']);
      return {
        name: vm.name,
        resourceGroup: vm.rg,
        id: vm.id,
        powerState: vm.power,
        provisioningState: vm.provisioningState,
        ip: vmAddress(state, vm),
        privateIp: vmPrivateAddress(state, vm),
        adminUser: asString(os?.['adminUsername']) ?? '',
        publicKeys: publicKeys(vm),
        vmSize: asString(asObject(vm.properties['hardwareProfile'])?.['vmSize']) ?? '',
        ...(vm.tags ? { tags: { ...vm.tags } } : {}),
        ...(vm.failure ? { failure: { ...vm.failure } } : {}),
      };
    },
    async stop() {
      await platform.stop();
      abort.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // A hook still running (the fleet) is given a moment, never awaited forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ops.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 4 * 1024 * 1024) {
        reject(new ArmError(413, 'RequestEntityTooLarge', 'The request body is larger than 4 MiB.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function tryJson(raw: string): unknown {
  try {
    return raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    return undefined;
  }
}

function parseJson(raw: string): JsonObject | undefined {
  if (raw.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ArmError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized as JSON.');
  }
  const object = asObject(parsed);
  if (!object) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  return object;
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'x-ms-request-id': randomUUID(), ...reply.headers };
  if (reply.body !== undefined) {
    const text = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(text);
  } else {
    headers['content-length'] = '0';
    res.writeHead(reply.status, headers);
    res.end();
  }
}
