/**
 * Orchestration cost alone, at 10, 50, 200 and 500 VMs (4 services each): the LCM's real boot
 * orchestrations on the local host, every activity but the durable-client ones stubbed (answers at
 * once). LCM_BENCH_DISPATCH_MS gives every message of the host a queue latency (Azure Storage's, e.g.
 * 200 ms): activities, results, events, instance starts. Reports per size:
 *   - root replay time per completion delivered to the root (the figure that must stay flat);
 *   - replays of the root and completions per root replay (how much the host batched);
 *   - total host time (every turn: replay + commit + scheduling) and host time per unit of work;
 *   - wall time.
 * Environment: LCM_BENCH_SCALING_VMS="10,50" picks sizes; LCM_BENCH_DISPATCH_MS adds latency;
 * LCM_BENCH_BUILD_MS makes each image build run that long on its VM (the boot then polls it between
 * durable timers: the bench reports the polls and the boot-vm history they cost).
 */
import { BOOT_ID } from '../functions/platform/ids.js';
import { O } from '../functions/activities/contracts.js';
import { startLocalHost } from '../local/host/index.js';
import { generateTopology } from './generate-platform.js';
import { installHostProbe } from './host-probe.js';
import type { ScalingConfig } from './boot-scaling.app.js';
import type { Report } from './run.js';

const ENTRY = new URL('./boot-scaling.app.ts', import.meta.url).pathname;
const SERVICES_PER_VM = 4;
const sizes = (process.env.LCM_BENCH_SCALING_VMS || '10,50,200,500').split(',').map(Number).filter((n) => n > 0);
const dispatchLatencyMs = Number(process.env.LCM_BENCH_DISPATCH_MS || 0);
const buildMs = Number(process.env.LCM_BENCH_BUILD_MS || 0);

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export default async function bootScaling(report: Report): Promise<void> {
  const config = ((globalThis as unknown as { __lcmScaling?: ScalingConfig }).__lcmScaling ??= { activityMs: 0 });
  const probe = installHostProbe();
  if (!probe.available) throw new Error('boot-scaling bench: the host probe cannot wrap this engine');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  config.buildMs = buildMs;
  out(`boot-scaling: stubbed activities, ${SERVICES_PER_VM} services per VM, dispatch latency ${dispatchLatencyMs} ms, builds of ${buildMs} ms`);
  const rows: Array<{ vms: number; perCompletion: number }> = [];
  try {
    for (const vms of sizes) {
      config.topology = generateTopology({ vms, services: vms * SERVICES_PER_VM, depth: 6, seed: 42 });
      const host = await startLocalHost({ entry: ENTRY, port: 0, storeFile: ':memory:', maxConcurrentActivities: 64, dispatchLatencyMs, log: () => undefined });
      try {
        probe.reset();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        host.startNew(O.boot, { instanceId: BOOT_ID });
        const s = await host.waitForInstance(BOOT_ID, { timeoutInMs: 3_600_000 });
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const output = s.output as { status?: string } | undefined;
        if (s.runtimeStatus !== 'Completed' || output?.status !== 'succeeded') throw new Error(`boot of ${vms} VMs ended ${s.runtimeStatus}: ${JSON.stringify(s.output).slice(0, 300)}`);
        const root = probe.turns.filter((t) => t.instanceId === BOOT_ID && t.replayed);
        // Completions the root received: its activities' results and every report (one per VM and
        // step, and a VM's batches of images when its builds outlast its ready report).
        const rootActivities = probe.activities.filter((a) => a.instanceId === BOOT_ID).length;
        const rootHistory = host.getInstance(BOOT_ID, { showHistory: true })?.historyEvents ?? [];
        const units = rootHistory.filter((e) => e.EventType === 'EventRaised').length;
        const rootCompletions = rootActivities + units;
        const rootReplayMs = sum(root.map((t) => t.replayMs));
        const rootReplayCpuMs = sum(root.map((t) => t.replayCpuMs));
        const hostMs = sum(probe.turns.map((t) => t.ms));
        const work = probe.activities.length + units;
        // CPU time, not wall time: the machine is shared, and wall time inflates with its load.
        const perCompletion = rootReplayCpuMs / rootCompletions;
        rows.push({ vms, perCompletion });
        const tag = `${vms} VMs / ${vms * SERVICES_PER_VM} services`;
        report(`${tag}: root replay CPU per completion`, perCompletion, 'ms');
        report(`${tag}: root replay wall per completion`, rootReplayMs / rootCompletions, 'ms');
        report(`${tag}: root replays`, root.length, '');
        report(`${tag}: completions per root replay`, rootCompletions / Math.max(1, root.length), '');
        report(`${tag}: root history events`, rootHistory.length, '');
        if (buildMs > 0) {
          // What following the builds costs: polls (one per VM per round) and the boot-vm histories.
          const polls = probe.activities.filter((a) => a.name === 'pollBuilds').length;
          const vmEvents = sum(Array.from({ length: vms }, (_, i) => host.getInstance(`boot-vm-${config.topology!.vms[i]!.name}`, { showHistory: true })?.historyEvents?.length ?? 0));
          report(`${tag}: build polls per VM`, polls / vms, '');
          report(`${tag}: boot-vm history events per VM`, vmEvents / vms, '');
        }
        report(`${tag}: root replay total`, rootReplayMs, 'ms');
        report(`${tag}: host time (all turns)`, hostMs, 'ms');
        report(`${tag}: host time per activity or report`, hostMs / work, 'ms');
        report(`${tag}: process CPU`, (cpu.user + cpu.system) / 1000, 'ms');
        report(`${tag}: wall`, wall, 'ms');
        // Stubs answer at once, so with a latency the wall time is that many messages one after another.
        if (dispatchLatencyMs > 0) report(`${tag}: messages one after another on the critical path (wall / latency)`, wall / dispatchLatencyMs, '');
      } finally {
        await host.stop();
      }
    }
  } finally {
    probe.uninstall();
  }
  if (rows.length > 1) {
    const first = rows[0]!;
    for (const r of rows.slice(1)) report(`root replay CPU per completion, ${r.vms} VMs / ${first.vms} VMs`, r.perCompletion / first.perCompletion, 'x');
  }
}
