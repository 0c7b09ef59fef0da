/**
 * Activity names and their input/output types: all an orchestration knows of an activity.
 * Inputs and outputs carry names, ids, addresses and versions; never a secret or a large blob.
 */
import type { RestartStreak } from '../platform/backoff.js';
import type { AzureContext, KafkaSpec, ServiceKind, ServiceSpec, Settings, Topology, VmSpec } from '../platform/topology.js';
import type { ActualState } from '../platform/reconcile-plan.js';
import type { BootGroups } from '../platform/boot-groups.js';
import type { BootOutput, BootServiceSummary } from '../platform/boot-output.js';
import type { Failure } from '../platform/boot-state.js';
import type { BootGroupInput } from '../orchestrations/boot-group.js';
import type { BootStepInput, BootStepOutput } from '../orchestrations/boot-step.js';
import type { BootVmInput } from '../orchestrations/boot-vm.js';
import type { RestartServiceInput } from '../orchestrations/restart-service.js';
import type { WatchdogInput } from '../orchestrations/watchdog.js';

/**
 * Every activity: its input and output. Orchestrations call activities only through the typed
 * helpers of orchestrations/calls.ts, and index.ts registers each handler against this table, so
 * the compiler ties each call site to the handler that answers it.
 */
export interface Activities {
  readDesiredState: { input: undefined; output: DesiredStateOutput };
  addVmToDesiredState: { input: { vm: VmSpec }; output: DesiredStateOutput };
  ensureResourceGroup: { input: { azure: ArmTarget }; output: { created: boolean } };
  ensureVm: { input: EnsureVmInput; output: VmInfo | RetryAfter };
  restartVm: { input: EnsureVmInput; output: VmInfo | RetryAfter };
  ensureDocker: { input: { vm: VmAccess }; output: { vm: string; installed: boolean } };
  startBuilds: { input: StartBuildsInput; output: BuildProgress[] };
  pollBuilds: { input: PollBuildsInput; output: BuildProgress[] };
  codeVersions: { input: { sources: string[] }; output: CodeVersion[] };
  startService: { input: StartServiceInput; output: StartedService };
  adoptServices: { input: AdoptServicesInput; output: StartedService[] };
  startKafka: { input: StartKafkaInput; output: StartedService };
  runBootStep: { input: BootStepInput; output: BootStepOutput };
  restartContainer: { input: RestartContainerInput; output: HealthResult };
  checkHealth: { input: RestartContainerInput; output: HealthResult };
  readRestartTarget: { input: { service: string }; output: RestartTarget };
  locateService: { input: { service: string }; output: ServiceLocation };
  recordRestart: { input: RecordRestartInput; output: void };
  markService: { input: MarkServiceInput; output: void };
  registerVm: { input: RegisterVmInput; output: void };
  recordEvent: { input: EventInput; output: void };
  startWatchdog: { input: WatchdogInput; output: { started: boolean } };
  startInstances: { input: StartInstancesInput; output: StartedInstance[] };
  notifyInstance: { input: NotifyInput; output: void };
  endedInstances: { input: EndedInstancesInput; output: EndedInstance[] };
  groupsSettled: { input: GroupsSettledInput; output: GroupSettled[] };
  startRestart: { input: RestartServiceInput; output: WatchdogRestart };
  readActualState: { input: ReadActualStateInput; output: ActualState };
  stopContainer: { input: StopContainerInput; output: StoppedContainer };
  deregisterInstance: { input: DeregisterInput; output: void };
  activeOperations: { input: { prefixes: string[] }; output: string[] };
  prepareBoot: { input: PrepareBootInput; output: PreparedBoot };
  summarizeBoot: { input: SummarizeBootInput; output: BootOutput };
}

export type ActivityName = keyof Activities;

export const A = {
  readDesiredState: 'readDesiredState',
  addVmToDesiredState: 'addVmToDesiredState',
  ensureResourceGroup: 'ensureResourceGroup',
  ensureVm: 'ensureVm',
  restartVm: 'restartVm',
  ensureDocker: 'ensureDocker',
  startBuilds: 'startBuilds',
  pollBuilds: 'pollBuilds',
  codeVersions: 'codeVersions',
  startService: 'startService',
  adoptServices: 'adoptServices',
  startKafka: 'startKafka',
  runBootStep: 'runBootStep',
  restartContainer: 'restartContainer',
  checkHealth: 'checkHealth',
  readRestartTarget: 'readRestartTarget',
  locateService: 'locateService',
  recordRestart: 'recordRestart',
  markService: 'markService',
  registerVm: 'registerVm',
  recordEvent: 'recordEvent',
  startWatchdog: 'startWatchdog',
  startInstances: 'startInstances',
  notifyInstance: 'notifyInstance',
  endedInstances: 'endedInstances',
  groupsSettled: 'groupsSettled',
  startRestart: 'startRestart',
  readActualState: 'readActualState',
  stopContainer: 'stopContainer',
  deregisterInstance: 'deregisterInstance',
  activeOperations: 'activeOperations',
  prepareBoot: 'prepareBoot',
  summarizeBoot: 'summarizeBoot',
} as const satisfies { [K in ActivityName]: K };

export const O = {
  boot: 'bootPlatform',
  bootVm: 'bootVm',
  provisionVm: 'provisionVm',
  initVm: 'initVm',
  restartVm: 'restartVmOrchestration',
  restartService: 'restartService',
  watchdog: 'watchdog',
  bootStep: 'bootStep',
  bootGroup: 'bootGroup',
  bootTick: 'bootTick',
  reconcile: 'reconcile',
  buildImages: 'buildImages',
} as const;

/** Azure context an ARM activity needs. */
export type ArmTarget = Pick<AzureContext, 'subscriptionId' | 'resourceGroup' | 'location'>;

export interface EnsureVmInput {
  azure: ArmTarget;
  vm: VmSpec;
  /** Ports the function app must reach on the VM (its Kafka broker), opened when it is created. */
  inboundPorts?: number[];
}

/**
 * An ARM call throttled with a Retry-After longer than an activity should sleep (Compute answers up
 * to 1200 s): the activity returns this instead of waiting, and the orchestration waits it out on a
 * durable timer, then calls again (orchestrations/tasks.ts callArmActivity).
 */
export interface RetryAfter {
  retryAfter: { seconds: number; reason: string };
}

export interface VmInfo {
  name: string;
  publicIp: string;
  privateIp: string;
  powerState: string;
  created: boolean;
  started: boolean;
}

/** How an activity reaches a VM over SSH: the key is a setting *name*, read inside the activity. */
export interface VmAccess {
  name: string;
  host: string;
  privateIp: string;
  adminUser: string;
  sshKeySecret: string;
}

/**
 * Start the image builds of a VM's steps on the VM, detached (a build runs for minutes there while
 * no activity waits on it). Safe to run again: a build already running or finished is found by its
 * marker on the VM, never started twice.
 */
export interface StartBuildsInput {
  vm: VmAccess;
  /** The boot run starting them: a build that failed for this run is reported again, not retried. */
  run: string;
  builds: Array<{ step: string; source: string; version?: string }>;
}

/** Where each of a VM's builds stands (one SSH command for all). */
export interface PollBuildsInput {
  vm: VmAccess;
  /** The poll's number (1, 2, …): tells one poll of the same builds from the next in the history. */
  round: number;
  builds: Array<{ step: string; image: string; version: string }>;
}

/** A build: done (its image), still running on the VM, or failed (naming the build and its log). */
export type BuildProgress =
  | { step: string; state: 'built'; image: PreparedImage }
  | { step: string; state: 'running'; image: string; version: string }
  | { step: string; state: 'failed'; reason: string };

/** A code folder's version, or why it could not be computed (then each build computes and reports it). */
export type CodeVersion = { source: string; version: string } | { source: string; error: string };

export interface PreparedImage {
  step: string;
  image: string;
  version: string;
  built: boolean;
}

export type ServiceRuntimeSpec = Pick<ServiceSpec, 'name' | 'kind' | 'port' | 'env' | 'secretEnv' | 'health'>;

export interface StartServiceInput {
  vm: VmAccess;
  service: ServiceRuntimeSpec;
  image: string;
  version: string;
  operationId: string;
  /** The monitoring service gets the LCM's API address and key (read from settings in the activity). */
  monitoring?: boolean;
  /** Remove and run the container again even when it looks current (a restart that did not heal). */
  recreate?: boolean;
  /**
   * Which replica (platform/replicas.ts): its container name and host port. Absent: replica 0, the
   * container named like the service on `service.port`.
   */
  replica?: { index: number; container: string; port: number };
  /** Start level (informational label: orders the stop when the service is removed). */
  level?: number;
}

/** Services a boot would start on a VM (replica 0 each), to take as running when they already are. */
export interface AdoptServicesInput {
  vm: VmAccess;
  services: Array<{ service: ServiceRuntimeSpec; version: string }>;
}

export interface StartedService {
  service: string;
  kind: ServiceKind | 'broker';
  vm: string;
  host: string;
  port: number;
  status: 'running';
  startedAt: string;
  action: 'none' | 'started' | 'created' | 'replaced';
}

export interface StartKafkaInput {
  vm: VmAccess;
  /** Without `startupTimeoutInMs` (an input from before it existed), the topology's default. */
  kafka: Pick<KafkaSpec, 'port' | 'topics'> & Partial<Pick<KafkaSpec, 'startupTimeoutInMs'>>;
  image: string;
  version: string;
  operationId: string;
}

export interface RestartContainerInput {
  vm: VmAccess;
  service: ServiceRuntimeSpec;
  /** A replica other than the first: its container and index (`service.port` is then the replica's port). */
  replica?: { index: number; container: string };
}

export interface HealthResult {
  service: string;
  healthy: boolean;
  running: boolean;
  detail?: string;
  /** Set when healthy: the endpoint, re-registered. */
  host?: string;
  port?: number;
}

export interface RecordRestartInput {
  service: string;
  streak: number;
  at: string;
  operationId: string;
  requestedBy: string;
  reason: string;
  outcome: 'succeeded' | 'failed';
  detail?: string;
}

export interface MarkServiceInput {
  service: string;
  status: 'failed' | 'stopped' | 'unknown';
  reason: string;
  at: string;
}

export interface RegisterVmInput {
  vm: VmInfo;
  dockerReady: boolean;
  at: string;
}

export interface EventInput {
  id: string;
  target: string;
  targetKind: 'vm' | 'service' | 'platform';
  type: 'boot' | 'provision' | 'init' | 'restart' | 'backoff' | 'failure' | 'watchdog' | 'reconcile' | 'start' | 'stop';
  outcome: 'started' | 'succeeded' | 'failed';
  operationId: string;
  at: string;
  reason?: string;
  requestedBy?: string;
  details?: Record<string, unknown>;
}

export interface DesiredStateOutput {
  topology: Topology;
  /** The stored document's version (a reconcile compares it at its end to see whether to go again). */
  version?: number;
}

/** What to read of the actual state: the VMs to look at (names and access references) and the code folders. */
export interface ReadActualStateInput {
  azure: ArmTarget;
  vms: Array<Pick<VmSpec, 'name' | 'adminUser' | 'sshKeySecret'>>;
  sources: string[];
}

export interface StopContainerInput {
  vm: VmAccess;
  service: string;
  container: string;
}

export interface StoppedContainer {
  service: string;
  vm: string;
  container: string;
  removed: boolean;
}

/** Take one container out of the registry (before stopping it: draining). */
export interface DeregisterInput {
  service: string;
  vm: string;
  container: string;
  at: string;
}

export interface RestartTarget {
  service: ServiceRuntimeSpec & { vm: string; source: string; role?: 'monitoring' };
  vm: VmSpec;
  /** Every replica (platform/replicas.ts) and the VMs they run on, when there is more than one. */
  replicas?: Array<{ index: number; vm: VmSpec; container: string; port: number }>;
  azure: ArmTarget;
  policy: Settings['restart'];
  streak: RestartStreak;
}

/**
 * Where a service runs now, as the desired state and the VM records have it: `removed` when the
 * desired state no longer has it, `unknown` when its VM has no recorded address yet.
 */
export type ServiceLocation =
  | { state: 'found'; service: ServiceRuntimeSpec; vm: VmAccess; replicas?: ReplicaAccess[] }
  | { state: 'removed'; reason: string }
  | { state: 'unknown'; reason: string };

/**
 * One replica where it runs now (platform/replicas.ts currentPlacements) and how to reach its VM.
 * In a `found` location, `replicas` lists every replica whose VM has a recorded address (absent:
 * one replica, at `vm` and `service.port`, which are always the first listed replica's).
 */
export interface ReplicaAccess {
  index: number;
  container: string;
  port: number;
  vm: VmAccess;
}

/** Orchestration instances to start under fixed ids, without waiting for them. */
export interface StartInstancesInput {
  instances: Array<
    | { name: typeof O.bootVm; instanceId: string; input: BootVmInput }
    | { name: typeof O.bootStep; instanceId: string; input: BootStepInput }
    | { name: typeof O.bootGroup; instanceId: string; input: BootGroupInput }
  >;
}

/** What the boot needs before its groups run: the desired state read, versions, resource group. */
export interface PrepareBootInput {
  /** The boot's instance and run: its groups report there. */
  notify: { instanceId: string; run: string };
  operationId: string;
  /** VMs per group (default platform/boot-groups.ts BOOT_GROUP_VMS). */
  groupVms?: number;
  /** The boot's start event, recorded here beside the desired state's read (one dispatch less at the boot's start). */
  start: Pick<EventInput, 'id' | 'operationId' | 'at' | 'requestedBy'>;
}

export type PreparedBoot =
  /** Every group was started (instances `boot-group-<i>`, i < groups). */
  | ({ state: 'started'; groups: number } & Pick<BootGroups, 'monitoring' | 'watchdog' | 'totals'>)
  /** Nothing could start (the resource group could not be made): the boot's whole output. */
  | { state: 'failed'; output: BootOutput };

export interface SummarizeBootInput {
  /** The boot's group instances, in order. */
  groups: string[];
  /** The monitoring service as the root started it, when the platform has one. */
  monitoring?: { name: string; service: Partial<BootServiceSummary>; failure?: Failure };
  /** The boot's end event, recorded here with the outcome the summary gives (one dispatch less at the boot's end). */
  end: Pick<EventInput, 'id' | 'operationId' | 'at'>;
}

export type StartedInstance = { instanceId: string; started: true } | { instanceId: string; started: false; reason: string };

/** Instances to look at: which of them ended without completing (their reports will never come). */
export interface EndedInstancesInput {
  instanceIds: string[];
  /** The alarm clock's tick that asked (each tick looks once). */
  tick: string;
  /**
   * The boot's run: instances of this run (their input's `notify.run`) that completed are named
   * too, with their output (a boot group that completed without its report reaching the root).
   */
  run?: string;
}

export interface GroupsSettledInput {
  /** The boot's run: a group of another run under the same id has nothing to say to this one. */
  run: string;
  /** Per group waited for: the steps of it that steps of the asking group wait for. */
  groups: Array<{ instanceId: string; steps: string[] }>;
  /** The alarm clock's tick that asked (each tick looks once). */
  tick: string;
}

/** A group that ended, and what its steps settled as (platform/boot-output.ts groupWord). */
export interface GroupSettled {
  instanceId: string;
  /** It completed (outcomes from its output), failed, was terminated, or the id holds another run's group. */
  ended: 'Completed' | 'Failed' | 'Terminated' | 'another run';
  outcomes: Array<{ step: string; ok: boolean }>;
}

/** An instance that failed or was terminated, or (asked with a run) completed in that run, with its output. */
export type EndedInstance = { instanceId: string; runtimeStatus: 'Failed' | 'Terminated' } | { instanceId: string; runtimeStatus: 'Completed'; output: unknown };

/** An event to raise to a waiting instance. */
export interface NotifyInput {
  instanceId: string;
  event: string;
  data: unknown;
}

/** Whether the watchdog's restart started, or why not. */
export type WatchdogRestart = { instanceId: string; started: true } | { instanceId: string; started: false; reason: string };
