/**
 * Boot of a generated platform (50 VMs, 200 services, a seeded dependency DAG) on the local Azure
 * emulators with realistic provisioning latencies divided by TIME_SCALE, driven by the real app on
 * the local host. Reports, for a first boot and for a boot of the healthy platform:
 *   - wall time / critical path (1.0 = the physical limit of the dependency graph);
 *   - host overhead share (orchestration replays + their commits and scheduling, vs. wall time);
 *   - ARM reads and writes per VM, and whether the calls fit Azure's throttling budgets;
 *   - dispatches one after another on the critical path (read from the task hub's histories);
 *   - memory: the machine's, and the RSS of each host worker process.
 * Once per worker count in LCM_BENCH_WORKERS (default "1,3": the local host in one process, then
 * scaled out to 3 worker processes over one task hub), each on a fresh platform.
 * Environment: LCM_BENCH_BOOT_VMS / LCM_BENCH_BOOT_SERVICES override the scale (quick runs).
 */
import { freemem, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ArmLogCounts, ArmLogEntry, OperationKind } from '../local/azure/arm/index.js';
import { startLocalHost, type LocalHost, type WorkerStats } from '../local/host/index.js';
import { APP_ENTRY, preparePlatform, type PreparedPlatform } from '../test/helpers/platform.js';
import { BOOT_ID, bootVmId } from '../functions/platform/ids.js';
import { planTopology, type Plan } from '../functions/platform/plan.js';
import { benchCodeRoot, generateTopology } from './generate-platform.js';
import { installHostProbe, type ActivityRun, type HostProbe, type TurnRecord } from './host-probe.js';
import { checkBudgets, type BudgetResult } from './arm-budget.js';
import { dispatchChain, type DispatchChain } from './dispatch-chain.js';
import type { Report } from './run.js';

/** Real Azure durations (seconds) of each ARM operation kind, typical of a Linux VM in one region. */
const REAL_SECONDS: Partial<Record<OperationKind, number>> = {
  'resourceGroup.read': 0.15,
  'resourceGroup.write': 1,
  'network.read': 0.15,
  'vnet.write': 6,
  'subnet.write': 4,
  'nsg.write': 4,
  'publicIp.write': 4,
  'nic.write': 6,
  'vm.read': 0.15,
  'vm.create': 75,
  'vm.start': 30,
  'vm.restart': 30,
  'vm.powerOff': 20,
  'vm.deallocate': 45,
  'operation.poll': 0.1,
};
/** Every injected latency is the real one divided by this (a run takes minutes, not hours). */
const TIME_SCALE = 20;
/** The adapter's production poll interval (2 s), scaled like everything else. */
const POLL_INTERVAL_MS = Math.round(2000 / TIME_SCALE);
const SEED = 42;
const DEPTH = 6;
/**
 * Measured: a service process (node server.js) shows ~45 MB RSS, but most of it is shared code;
 * 200 of them took ~1.2 GB of the machine's memory. Keep a wide margin.
 */
const MB_PER_SERVICE = 20;
const BASE_MB = 3_000;
const BOOT_TIMEOUT_MS = 30 * 60_000;
/** host.json maxConcurrentActivityFunctions (also the local host's default). */
// Default: what host.json gives the local host (as in Azure); LCM_BENCH_ACTIVITY_SLOTS compares others.
const ACTIVITY_SLOTS = Number(
  process.env.LCM_BENCH_ACTIVITY_SLOTS ||
    JSON.parse(readFileSync(new URL('../host.json', import.meta.url), 'utf8')).extensions.durableTask.maxConcurrentActivityFunctions,
);

const latency = Object.fromEntries(Object.entries(REAL_SECONDS).map(([k, s]) => [k, Math.round((s * 1000) / TIME_SCALE)])) as Partial<Record<OperationKind, number>>;
const L = (kind: OperationKind): number => latency[kind] ?? 0;

interface Scale {
  vms: number;
  services: number;
  why: string;
}

function chooseScale(): Scale {
  const envVms = Number(process.env.LCM_BENCH_BOOT_VMS || 0);
  const envServices = Number(process.env.LCM_BENCH_BOOT_SERVICES || 0);
  if (envVms > 0 && envServices > 0) return { vms: envVms, services: envServices, why: 'set by LCM_BENCH_BOOT_VMS / LCM_BENCH_BOOT_SERVICES' };
  const freeMb = Math.floor(freemem() / 2 ** 20);
  for (const services of [200, 100, 50]) {
    const needMb = services * MB_PER_SERVICE + BASE_MB;
    if (freeMb >= needMb) {
      const why = services === 200 ? `full scale (${freeMb} MB free >= ${needMb} MB needed)` : `scaled down: ${freeMb} MB free < ${200 * MB_PER_SERVICE + BASE_MB} MB needed for 200 service processes`;
      return { vms: 50, services, why };
    }
  }
  throw new Error(`boot bench: only ${freeMb} MB free; even 50 service processes need ${50 * MB_PER_SERVICE + BASE_MB} MB. Free memory and retry.`);
}

// ------------------------------------------------------------------ measurement helpers

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const execMs = (a: ActivityRun): number => (a.endedAt ?? a.startedAt ?? a.queuedAt) - (a.startedAt ?? a.queuedAt);

/** Busy CPU ticks of the whole machine (all processes: services, other users), from /proc/stat. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = sum(fields);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

interface BootRun {
  wallMs: number;
  /** performance.now() when the boot was asked for: the origin of its activities' times. */
  t0: number;
  /** When the API answered 202, ms after t0. */
  acceptedMs: number;
  status: string;
  failures: unknown[];
  arm: ArmLogCounts;
  armEntries: ArmLogEntry[];
  turns: TurnRecord[];
  activities: ActivityRun[];
  /** Event-loop utilisation of this process (host + emulators + SSH servers) during the boot. */
  elu: number;
  /** CPU seconds of this process and share of the machine's CPU busy during the boot. */
  processCpuS: number;
  machineBusy?: number;
  fleet: { builds: number; runs: number; installs: number; restarts: number };
  startedAt: number;
  /** Machine memory taken during the boot (service processes mostly), MB. */
  memoryMb: number;
  /** What each host process did during this boot (activities, replays, turn time) and its RSS after it. */
  workers: WorkerStats[];
  chain: DispatchChain;
  /**
   * CPU time of this process's replays, each run again alone on the idle host after the boot (a live
   * turn's time also counts the wait for a busy CPU); undefined when the replays ran in other processes.
   */
  replayAloneMs?: number;
}

function statsDelta(after: WorkerStats[], before: WorkerStats[]): WorkerStats[] {
  return after.map((a) => {
    const b = before.find((x) => x.pid === a.pid);
    return b ? { ...a, activities: a.activities - b.activities, replays: a.replays - b.replays, droppedReplays: a.droppedReplays - b.droppedReplays, turnMs: a.turnMs - b.turnMs } : a;
  });
}

function fleetTotals(p: PreparedPlatform): BootRun['fleet'] {
  const t = { builds: 0, runs: 0, installs: 0, restarts: 0 };
  for (const vm of p.topology.vms) {
    const c = p.azure.fleet.counts(vm.name, { by: 'cli' });
    t.builds += c.build;
    t.runs += c.run;
    t.installs += c.install;
    t.restarts += c.restart + c.start;
  }
  return t;
}

async function boot(host: LocalHost, p: PreparedPlatform, probe: HostProbe): Promise<BootRun> {
  p.azure.arm.log.reset();
  probe.reset();
  const before = fleetTotals(p);
  const free0 = freemem();
  const stats0 = await host.workerStats();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const m0 = machineCpu();
  const startedAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${host.baseUrl}/api/boot`, { method: 'POST', headers: { 'x-functions-key': p.key, 'content-type': 'application/json' }, body: '{}' });
  if (res.status !== 202) throw new Error(`POST /api/boot answered ${res.status}: ${await res.text()}`);
  const acceptedMs = performance.now() - t0;
  const { id } = (await res.json()) as { id: string };
  const done = await host.waitForInstance(id, { timeoutInMs: BOOT_TIMEOUT_MS });
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const cpu = process.cpuUsage(cpu0);
  const m1 = machineCpu();
  const after = fleetTotals(p);
  const workers = statsDelta(await host.workerStats(), stats0);
  const output = (done.output ?? {}) as { status?: string; failures?: unknown[] };
  const alone = probe.available && probe.turns.length > 0 ? await probe.replayAlone() : undefined;
  const replayAloneMs = alone ? sum([...alone.values()].map((a) => a.cpuMs)) : undefined;
  return {
    wallMs,
    t0,
    acceptedMs,
    status: done.runtimeStatus === 'Completed' ? (output.status ?? 'unknown') : `${done.runtimeStatus}: ${JSON.stringify(done.output).slice(0, 300)}`,
    failures: output.failures ?? [],
    arm: p.azure.arm.log.counts(),
    armEntries: p.azure.arm.log.entries,
    turns: [...probe.turns],
    activities: [...probe.activities],
    elu,
    processCpuS: (cpu.user + cpu.system) / 1e6,
    machineBusy: m0 && m1 ? (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total) : undefined,
    fleet: { builds: after.builds - before.builds, runs: after.runs - before.runs, installs: after.installs - before.installs, restarts: after.restarts - before.restarts },
    startedAt,
    memoryMb: Math.round((free0 - freemem()) / 2 ** 20),
    workers,
    ...(replayAloneMs !== undefined ? { replayAloneMs } : {}),
    chain: dispatchChain(p.storeFile, BOOT_ID),
  };
}

// ------------------------------------------------------------------ critical path

interface StepTimes {
  /** Docker install + VM registration + slowest image build on one VM. */
  dockerBuildMs: number;
  kafkaMs: number;
  serviceMs: number;
}

interface CriticalPath {
  armChainMs: number;
  armParts: string;
  serviceLevels: number;
  /** Step times of the quietest moments of the run: the physical limit. */
  quiet: StepTimes & { totalMs: number };
  /** Median step times, as slowed down by everything else running on this 2-core machine. */
  loaded: StepTimes & { totalMs: number };
}

/**
 * Slowest VM chain + longest service chain. The ARM part comes from the injected latencies and the
 * adapter's call sequence (functions/cloud/compute.ts, network.ts): resource group read + create,
 * the VM read (404), the network reads, the parallel vnet / NSG / public IP writes, the NIC read and
 * write, the VM create. The emulators do not slow Docker install, builds or container starts, so
 * those parts are measured from the run (activity execution time, queueing excluded):
 *   quiet  = fastest VM's Docker + builds; Kafka's start; the monitoring service's start (the last
 *            level holds it alone, so nothing else runs then) per service level;
 *   loaded = medians over VMs and over all service starts, i.e. under this run's CPU contention
 *            (50 emulated VMs and 200 services share 2 cores, which real VMs do not).
 */
function criticalPath(plan: Plan, run: BootRun): CriticalPath {
  const parallelNet = Math.max(L('vnet.write'), L('nsg.write'), L('publicIp.write'));
  const armChainMs = L('resourceGroup.read') + L('resourceGroup.write') + L('vm.read') + L('network.read') + parallelNet + L('network.read') + L('nic.write') + L('vm.create');
  const armParts = `rg ${L('resourceGroup.read') + L('resourceGroup.write')} + reads ${L('vm.read') + 2 * L('network.read')} + vnet|nsg|ip ${parallelNet} + nic ${L('nic.write')} + vm.create ${L('vm.create')}`;
  const done = run.activities.filter((a) => a.startedAt !== undefined && a.endedAt !== undefined);
  // VMs whose branch failed (no Docker, no builds) say nothing about these steps: left out.
  const perVm = plan.vms.flatMap((vm) => {
    const acts = done.filter((a) => a.instanceId === bootVmId(vm));
    const one = (name: string) => sum(acts.filter((a) => a.name === name).map(execMs));
    // Builds run detached on the VM: from the start of startBuilds to the end of the poll that saw
    // the last one built (a poll's lag included: the boot sees a build done no sooner).
    const start = acts.find((a) => a.name === 'startBuilds');
    if (!start || !acts.some((a) => a.name === 'ensureDocker')) return [];
    const lastSeen = Math.max(start.endedAt!, ...acts.filter((a) => a.name === 'pollBuilds').map((a) => a.endedAt!));
    return [one('ensureDocker') + Math.max(one('registerVm'), lastSeen - start.startedAt!)];
  });
  // A group's steps run as runBootStep activities (the root's monitoring start as startService).
  const kafkaMs = median(done.filter((a) => a.name === 'startKafka' || (a.name === 'runBootStep' && a.step === 'kafka')).map(execMs)) || 0;
  const starts = done.filter((a) => a.name === 'startService' || (a.name === 'runBootStep' && a.step !== 'kafka')).sort((a, b) => a.queuedAt - b.queuedAt);
  const serviceLevels = plan.levels.length - (plan.kafka ? 1 : 0);
  const total = (t: StepTimes) => armChainMs + t.dockerBuildMs + t.kafkaMs + serviceLevels * t.serviceMs;
  const quietTimes: StepTimes = { dockerBuildMs: Math.min(...perVm), kafkaMs, serviceMs: starts.length ? execMs(starts[starts.length - 1]!) : NaN };
  const loadedTimes: StepTimes = { dockerBuildMs: median(perVm), kafkaMs, serviceMs: median(starts.map(execMs)) };
  return {
    armChainMs,
    armParts,
    serviceLevels,
    quiet: { ...quietTimes, totalMs: total(quietTimes) },
    loaded: { ...loadedTimes, totalMs: total(loadedTimes) },
  };
}

function engineTime(turns: TurnRecord[]): { turnMs: number; replayMs: number; replays: number; rootReplays: number; rootMs: number } {
  const replayed = turns.filter((t) => t.replayed);
  const root = replayed.filter((t) => t.instanceId === BOOT_ID);
  return {
    turnMs: sum(turns.map((t) => t.ms)),
    replayMs: sum(turns.map((t) => t.replayMs)),
    replays: replayed.length,
    rootReplays: root.length,
    rootMs: sum(root.map((t) => t.ms)),
  };
}

// ------------------------------------------------------------------ the bench

/** Worker processes of the local host to compare (LCM_BENCH_WORKERS, default "1,3"). */
function workerCounts(): number[] {
  const list = (process.env.LCM_BENCH_WORKERS || '1,3').split(',').map((x) => Number(x.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`LCM_BENCH_WORKERS="${process.env.LCM_BENCH_WORKERS}": expected worker counts such as "1,3"`);
  return list;
}

interface ConfigResult {
  workers: number;
  first: BootRun;
  second: BootRun;
}

export default async function bootBench(report: Report): Promise<void> {
  const scale = chooseScale();
  const topology = generateTopology({ vms: scale.vms, services: scale.services, depth: DEPTH, seed: SEED });
  const plan = planTopology(topology);
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`boot bench: ${scale.vms} VMs, ${scale.services} services (${scale.why}), ${plan.levels.length} plan levels (Kafka, ${DEPTH} service levels, monitoring), seed ${SEED}`);
  out(`  latencies = real Azure / ${TIME_SCALE}: ${Object.entries(latency).map(([k, v]) => `${k} ${v}`).join(', ')} (ms); ARM poll interval ${POLL_INTERVAL_MS} ms`);
  out(`  VMs are real (network namespaces, sshd, dockerd): Docker install, pulls and builds take their real time on this machine`);
  const results: ConfigResult[] = [];
  // Step times (Docker install, builds, starts) come from the in-process probe: the run on one process.
  let steps: BootRun | undefined;
  for (const workers of workerCounts()) {
    const r = await runConfig(workers, topology, out);
    if (!r) continue;
    results.push(r);
    if (r.first.activities.length > 0) steps ??= r.first;
    summarize(report, out, { scale, plan, first: r.first, second: r.second, steps: steps ?? r.first, vms: topology.vms.length, workers });
  }
  if (results.length > 1) compare(out, plan, results, steps);
}

async function runConfig(workers: number, topology: ReturnType<typeof generateTopology>, out: (line?: string) => void): Promise<ConfigResult | undefined> {
  const envBefore = { ...process.env };
  const code = benchCodeRoot();
  const storeDir = mkdtempSync(path.join(tmpdir(), 'lcm-bench-boot-'));
  // The probe sees this process only: with several workers the replays and activities run elsewhere.
  const probe = installHostProbe();
  const hostLog: string[] = [];
  let platform: PreparedPlatform | undefined;
  let host: LocalHost | undefined;
  const benchStart = performance.now();
  out(`  --- local host on ${workers} ${workers === 1 ? 'process' : 'worker processes'} ---`);
  try {
    const tPrep = performance.now();
    platform = await preparePlatform({ topology, codeRoot: code.dir, azure: { armLatency: latency }, storeFile: path.join(storeDir, 'hub.sqlite') });
    // Time runs TIME_SCALE times faster here: so do the poll interval and the ARM pacing (defaults 20 reads/s, 8 writes/s).
    const settings = {
      ...platform.settings,
      LCM_ARM_POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
      LCM_ARM_READS_PER_SECOND: String(20 * TIME_SCALE),
      LCM_ARM_WRITES_PER_SECOND: String(8 * TIME_SCALE),
    };
    host = await startLocalHost({ entry: APP_ENTRY, port: platform.port, storeFile: platform.storeFile, settings, functionKeys: [platform.key], maxConcurrentActivities: ACTIVITY_SLOTS, workers, log: (line) => hostLog.push(line) });
    out(`  emulators up, platform seeded, host started in ${((performance.now() - tPrep) / 1000).toFixed(1)} s`);

    const first = await boot(host, platform, probe);
    out(`  first boot: ${first.status} in ${(first.wallMs / 1000).toFixed(1)} s`);
    const second = await boot(host, platform, probe);
    out(`  second boot (healthy platform): ${second.status} in ${(second.wallMs / 1000).toFixed(1)} s`);
    if (first.failures.length || second.failures.length) {
      out(`  failures (first boot ${first.failures.length}, second ${second.failures.length}), first few:`);
      for (const f of [...first.failures, ...second.failures].slice(0, 5)) out(`    ${JSON.stringify(f).slice(0, 300)}`);
      for (const line of hostLog.filter((l) => /fail|error/i.test(l)).slice(-5)) out(`    host: ${line.slice(0, 300)}`);
    }
    return { workers, first, second };
  } finally {
    // Stop whatever started, even after a failure: no service process, port or temp file left.
    await host?.stop().catch((e) => out(`  host stop failed: ${String(e)}`));
    // The prepared platform's stop: the emulators and the deployment's own state folder.
    await platform?.stop().catch((e) => out(`  emulators stop failed: ${String(e)}`));
    probe.uninstall();
    for (const k of Object.keys(process.env)) if (!(k in envBefore)) delete process.env[k];
    Object.assign(process.env, envBefore);
    code.remove();
    rmSync(storeDir, { recursive: true, force: true });
    if (platform) rmSync(path.dirname(platform.storeFile), { recursive: true, force: true });
    out(`  ${workers} worker(s): bench total ${((performance.now() - benchStart) / 1000).toFixed(1)} s (setup, two boots, teardown)`);
  }
}

/** One table: each worker count side by side, first boot and re-boot. */
function compare(out: (line?: string) => void, plan: Plan, results: ConfigResult[], steps: BootRun | undefined): void {
  const cp = steps ? criticalPath(plan, steps) : undefined;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const turnMs = (r: BootRun) => sum(r.workers.map((w) => w.turnMs));
  const rssMb = (r: BootRun) => Math.round(sum(r.workers.map((w) => w.rssBytes)) / 2 ** 20);
  const vms = plan.vms.length;
  out();
  out(`  ${'workers compared'.padEnd(46)}${results.map((r) => `${r.workers}w first`.padStart(13) + `${r.workers}w re-boot`.padStart(14)).join('')}`);
  const row = (name: string, f: (r: BootRun) => string, again: (r: BootRun) => string = f) => out(`  ${name.padEnd(46)}${results.map((r) => f(r.first).padStart(13) + again(r.second).padStart(14)).join('')}`);
  row('status', (r) => r.status);
  row('wall time', (r) => s(r.wallMs));
  if (cp) row('wall / critical path (quiet; load-adjusted)', (r) => `${(r.wallMs / cp.quiet.totalMs).toFixed(2)}; ${(r.wallMs / cp.loaded.totalMs).toFixed(2)}`, () => '-');
  row('host turn time (replay + commit), all workers', (r) => s(turnMs(r)));
  row('  share of wall', (r) => pct(turnMs(r) / r.wallMs));
  row('replays committed (dropped: lease lost)', (r) => `${sum(r.workers.map((w) => w.replays))} (${sum(r.workers.map((w) => w.droppedReplays))})`);
  row('activities per worker', (r) => r.workers.map((w) => w.activities).join('/'));
  row('dispatches on the critical path', (r) => String(r.chain.dispatches));
  row('ARM reads / writes per VM', (r) => `${(r.arm.reads / vms).toFixed(1)}/${(r.arm.writes / vms).toFixed(1)}`);
  row('ARM requests over a budget', (r) => String(sum(checkBudgets(r.armEntries, TIME_SCALE).map((b) => b.overBudget))));
  row('host process RSS (sum; 1w: + emulators, VMs)', (r) => `${rssMb(r)} MB`);
  row('machine memory taken during the boot', (r) => `${r.memoryMb} MB`);
  row('LCM bench process CPU', (r) => `${r.processCpuS.toFixed(1)} s`);
  out(`  critical path of the first boot (${results[0]!.workers}w): ${results[0]!.first.chain.path.join(' > ').slice(0, 400)}`);
}

function summarize(
  report0: Report,
  out: (line?: string) => void,
  ctx: { scale: Scale; plan: Plan; first: BootRun; second: BootRun; steps: BootRun; vms: number; workers: number },
): void {
  const { plan, first, second, vms } = ctx;
  // With several workers the activities and replays ran in other processes: the probe saw nothing,
  // so step times come from the one-process run and host time from the workers' own counters.
  const probe = { available: first.activities.length > 0 };
  const cp = criticalPath(plan, ctx.steps);
  const prefix = ctx.workers === 1 ? '' : `${ctx.workers} workers: `;
  const report: Report = (name, value, unit) => report0(prefix + name, value, unit);
  const turnMs = (r: BootRun) => sum(r.workers.map((w) => w.turnMs));
  const ratio = first.wallMs / cp.quiet.totalMs;
  const loadedRatio = first.wallMs / cp.loaded.totalMs;
  const e1 = engineTime(first.turns);
  const e2 = engineTime(second.turns);
  const acts = first.activities.filter((a) => a.startedAt !== undefined && a.endedAt !== undefined);
  const waits = acts.map((a) => a.startedAt! - a.queuedAt);
  const slotShare = sum(acts.map(execMs)) / (ACTIVITY_SLOTS * first.wallMs);
  const ensureVm = median(acts.filter((a) => a.name === 'ensureVm').map(execMs));
  const budgets1 = checkBudgets(first.armEntries, TIME_SCALE);
  const budgets2 = checkBudgets(second.armEntries, TIME_SCALE);
  const vmReads = (r: BootRun) => (r.arm.byKind['vm.read'] ?? 0) / vms;

  report('services in the platform', ctx.scale.services, 'services');
  report('first boot: failures (VMs, services)', first.failures.length, 'failures');
  report('first boot: wall time', first.wallMs / 1000, 's');
  report('first boot: critical path (physical limit)', cp.quiet.totalMs / 1000, 's');
  report('first boot: wall / critical path', ratio, 'x');
  report('first boot: wall / critical path with step times under load', loadedRatio, 'x');
  if (probe.available) {
    report('first boot: host overhead share (replay+commit / wall)', e1.turnMs / first.wallMs, 'ratio');
    report('first boot: orchestrator replays', e1.replays, 'replays');
    report('first boot: ms per replay (mean)', e1.replays ? e1.turnMs / e1.replays : 0, 'ms');
    report('first boot: root orchestration share of engine time', e1.turnMs ? e1.rootMs / e1.turnMs : 0, 'ratio');
    report(`first boot: activity slots busy (of ${ACTIVITY_SLOTS})`, slotShare, 'ratio');
    report('first boot: activity queue wait (mean)', waits.length ? sum(waits) / waits.length : 0, 'ms');
  }
  report('first boot: host turn time share, host counters (all workers)', turnMs(first) / first.wallMs, 'ratio');
  report('first boot: dispatches on the critical path', first.chain.dispatches, 'dispatches');
  report('first boot: host worker RSS (sum)', sum(first.workers.map((w) => w.rssBytes)) / 2 ** 20, 'MB');
  report('first boot: machine memory taken', first.memoryMb, 'MB');
  report('first boot: event-loop utilisation of the LCM process', first.elu, 'ratio');
  report('first boot: ARM reads per VM', first.arm.reads / vms, 'reads/VM');
  report('first boot: ARM writes per VM', first.arm.writes / vms, 'writes/VM');
  report('first boot: ARM async-operation polls per VM', first.arm.polls / vms, 'polls/VM');
  report('first boot: ARM requests over a throttling budget', sum(budgets1.map((b) => b.overBudget)), 'requests');
  report('second boot: wall time', second.wallMs / 1000, 's');
  if (first.replayAloneMs !== undefined) report('first boot: replay CPU, each replay run again alone, share of wall', first.replayAloneMs / first.wallMs, 'ratio');
  if (probe.available) report('second boot: host overhead share (replay+commit / wall)', e2.turnMs / second.wallMs, 'ratio');
  if (second.replayAloneMs !== undefined) report('second boot: replay CPU, each replay run again alone, share of wall', second.replayAloneMs / second.wallMs, 'ratio');
  report('second boot: host turn time share, host counters (all workers)', turnMs(second) / second.wallMs, 'ratio');
  report('second boot: dispatches on the critical path', second.chain.dispatches, 'dispatches');
  process.stdout.write(`    the re-boot's critical path: ${second.chain.path.join(' > ')}\n`);
  // The re-boot's own limit: every VM read side by side, then each VM's one look at its services
  // (image, labels, one health probe each: adoptServices), also side by side.
  const done2 = second.activities.filter((a) => a.startedAt !== undefined && a.endedAt !== undefined);
  const slowest = (name: string) => Math.max(0, ...done2.filter((a) => a.name === name).map(execMs));
  const rebootLimitMs = slowest('ensureVm') + slowest('adoptServices');
  if (done2.length > 0 && rebootLimitMs > 0) {
    report('second boot: limit (slowest VM read + slowest look at a VM\'s services)', rebootLimitMs / 1000, 's');
    report('second boot: wall / that limit', second.wallMs / rebootLimitMs, 'x');
  }
  report('second boot: ARM reads per VM', second.arm.reads / vms, 'reads/VM');
  report('second boot: ARM VM reads (Get+InstanceView) per VM', vmReads(second), 'reads/VM');
  report('second boot: ARM writes per VM', second.arm.writes / vms, 'writes/VM');
  report('second boot: failures (VMs, services)', second.failures.length, 'failures');
  report('second boot: ARM requests over a throttling budget', sum(budgets2.map((b) => b.overBudget)), 'requests');
  report('second boot: image builds + container runs/starts', second.fleet.builds + second.fleet.runs + second.fleet.restarts, 'ops');

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  out();
  out(`  ${ctx.workers} worker(s)${probe.available ? '' : ' (step times from the one-process run)'}`);
  out(`  ${'boot summary'.padEnd(44)}${'first boot'.padStart(14)}${'healthy re-boot'.padStart(18)}`);
  const row = (name: string, a: string, b: string) => out(`  ${name.padEnd(44)}${a.padStart(14)}${b.padStart(18)}`);
  row('status', first.status, second.status);
  row('wall time', s(first.wallMs), s(second.wallMs));
  row('critical path (physical limit)', s(cp.quiet.totalMs), '-');
  row('wall / critical path', `${ratio.toFixed(2)} x`, '-');
  row('  same, step times as slowed by load', `${loadedRatio.toFixed(2)} x`, '-');
  row('host engine time (replay + commit)', probe.available ? s(e1.turnMs) : 'n/a', probe.available ? s(e2.turnMs) : 'n/a');
  row('  share of wall', probe.available ? pct(e1.turnMs / first.wallMs) : 'n/a', probe.available ? pct(e2.turnMs / second.wallMs) : 'n/a');
  row('  of which SDK replay', probe.available ? s(e1.replayMs) : 'n/a', probe.available ? s(e2.replayMs) : 'n/a');
  const alone = (r: BootRun) => (r.replayAloneMs !== undefined ? `${s(r.replayAloneMs)}, ${pct(r.replayAloneMs / r.wallMs)}` : 'n/a');
  row('replay CPU, each replay again alone (share)', alone(first), alone(second));
  row('  replays (root boot orchestration)', probe.available ? `${e1.replays} (${e1.rootReplays})` : 'n/a', probe.available ? `${e2.replays} (${e2.rootReplays})` : 'n/a');
  row('LCM process event-loop utilisation', pct(first.elu), pct(second.elu));
  row('LCM process CPU', `${first.processCpuS.toFixed(1)} s`, `${second.processCpuS.toFixed(1)} s`);
  row('machine CPU busy (all processes, 2 cores)', first.machineBusy !== undefined ? pct(first.machineBusy) : 'n/a', second.machineBusy !== undefined ? pct(second.machineBusy) : 'n/a');
  row('machine memory taken during the boot', `${first.memoryMb} MB`, '-');
  row('ARM reads / VM (polls / VM)', `${(first.arm.reads / vms).toFixed(2)} (${(first.arm.polls / vms).toFixed(2)})`, `${(second.arm.reads / vms).toFixed(2)} (${(second.arm.polls / vms).toFixed(2)})`);
  row('ARM VM Get+InstanceView / VM', vmReads(first).toFixed(2), vmReads(second).toFixed(2));
  row('ARM writes / VM', (first.arm.writes / vms).toFixed(2), (second.arm.writes / vms).toFixed(2));
  row('Docker installs / builds / runs / (re)starts', `${first.fleet.installs}/${first.fleet.builds}/${first.fleet.runs}/${first.fleet.restarts}`, `${second.fleet.installs}/${second.fleet.builds}/${second.fleet.runs}/${second.fleet.restarts}`);
  out();
  const chain = (t: StepTimes & { totalMs: number }, label: string) => {
    out(`  ${label}: ${s(t.totalMs)} = VM chain ${s(cp.armChainMs + t.dockerBuildMs)} + service chain ${s(t.kafkaMs + cp.serviceLevels * t.serviceMs)}`);
    out(`    VM chain: injected ARM ${cp.armChainMs} ms + Docker install & builds ${t.dockerBuildMs.toFixed(0)} ms; service chain: Kafka ${t.kafkaMs.toFixed(0)} ms + ${cp.serviceLevels} levels x ${t.serviceMs.toFixed(0)} ms`);
  };
  chain(cp.quiet, 'critical path (quietest measured steps: fastest VM, monitoring start alone)');
  chain(cp.loaded, 'critical path with median step times under load');
  out(`    injected ARM chain: ${cp.armParts} (ms)`);
  if (probe.available) {
    out(`    measured ensureVm (median) ${ensureVm.toFixed(0)} ms vs injected ARM chain ${cp.armChainMs} ms (the rest: polling at ${POLL_INTERVAL_MS} ms, SDK, CPU contention)`);
    const slotTime = new Map<string, number>();
    for (const a of acts) slotTime.set(a.name, (slotTime.get(a.name) ?? 0) + execMs(a));
    const bySlot = [...slotTime.entries()].sort((a, b) => b[1] - a[1]).map(([n, ms]) => `${n} ${(ms / 1000).toFixed(0)}`);
    out(`    activity slot-seconds by function: ${bySlot.join(', ')}`);
    out(`    activities: ${acts.length}, slots busy ${pct(slotShare)} of ${ACTIVITY_SLOTS} slots x wall, queue wait mean ${(waits.length ? sum(waits) / waits.length : 0).toFixed(0)} ms, max ${(waits.length ? Math.max(...waits) : 0).toFixed(0)} ms`);
    // Where the re-boot's time goes: when each kind of work first started and last ended.
    const span = new Map<string, { n: number; from: number; to: number; exec: number[] }>();
    for (const a of second.activities.filter((x) => x.startedAt !== undefined && x.endedAt !== undefined)) {
      const e = span.get(a.name) ?? { n: 0, from: Infinity, to: 0, exec: [] };
      e.n++;
      e.from = Math.min(e.from, a.startedAt! - second.t0);
      e.to = Math.max(e.to, a.endedAt! - second.t0);
      e.exec.push(execMs(a));
      span.set(a.name, e);
    }
    const spans = [...span.entries()].sort((a, b) => a[1].from - b[1].from);
    out(`    re-boot timeline (ms from the request; first start-last end, slowest): ${spans.map(([n, e]) => `${n} x${e.n} ${e.from.toFixed(0)}-${e.to.toFixed(0)} (${Math.max(...e.exec).toFixed(0)})`).join(', ')}`);
    // The root's turns and a group's first and last, beside the API's answer: the fixed work around the limit.
    const at = (t: { start: number; ms: number }) => `${(t.start - second.t0).toFixed(0)}+${t.ms.toFixed(0)}`;
    const rootTurns = second.turns.filter((t) => t.instanceId === 'boot').sort((a, b) => a.start - b.start);
    const groupTurns = second.turns.filter((t) => t.instanceId.startsWith('boot-group-')).sort((a, b) => a.start - b.start);
    out(`    re-boot turns (ms from the request, start+length): API answered 202 at ${second.acceptedMs.toFixed(0)}; root ${rootTurns.map(at).join(', ')}${groupTurns.length ? `; groups first ${at(groupTurns[0]!)}, last ${at(groupTurns[groupTurns.length - 1]!)}` : ''}`);
  } else {
    out(`    (host probes unavailable: local/host/engine.ts internals changed; engine time and activity timings not measured)`);
  }
  out();
  out(`  ARM throttling budgets (anchors.md), requests replayed in real-equivalent time (x${TIME_SCALE}):`);
  out(`  ${'budget'.padEnd(60)}${'first: peak/burst, over'.padStart(26)}${'re-boot: peak/burst, over'.padStart(28)}`);
  budgets1.forEach((b, i) => {
    const c = (r: BudgetResult) => (r.requests === 0 ? 'no requests' : `${r.peakUsed}/${r.burst}, ${r.overBudget}`);
    out(`  ${b.name.padEnd(60)}${c(b).padStart(26)}${c(budgets2[i]!).padStart(28)}`);
  });
  out(`  first boot ARM by kind: ${Object.entries(first.arm.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out(`  re-boot ARM by kind: ${Object.entries(second.arm.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
