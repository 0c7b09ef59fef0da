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
  const rows: Array<{ vms: number; perCompletion: number; overall: number; maxHistory: number }> = [];
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
        // Completions each orchestration received: results of its activities, timers and sub-
        // orchestrations, and events (reports of its units, a group's word from another group).
        const COMPLETIONS = new Set(['TaskCompleted', 'TaskFailed', 'EventRaised', 'TimerFired', 'SubOrchestrationInstanceCompleted', 'SubOrchestrationInstanceFailed']);
        const ids = [...new Set(probe.turns.map((t) => t.instanceId))];
        // Every replay again, one at a time on the idle host: the replays' own CPU time.
        const alone = await probe.replayAlone();
        const levels: Array<[string, (id: string) => boolean]> = [
          ['root', (id) => id === BOOT_ID],
          ['group', (id) => id.startsWith('boot-group-')],
          ['vm', (id) => id.startsWith('boot-vm-')],
          ['step', (id) => id.startsWith('boot-step-')],
        ];
        const tag = `${vms} VMs / ${vms * SERVICES_PER_VM} services`;
        let allCpu = 0;
        let allCompletions = 0;
        let perCompletion = 0;
        let maxHistory = 0;
        for (const [level, matches] of levels) {
          const mine = ids.filter(matches);
          if (mine.length === 0) continue;
          const turns = probe.turns.filter((t) => t.replayed && matches(t.instanceId));
          let completions = 0;
          let events = 0;
          for (const id of mine) {
            const history = host.getInstance(id, { showHistory: true })?.historyEvents ?? [];
            completions += history.filter((e) => COMPLETIONS.has(String(e.EventType))).length;
            events = Math.max(events, history.length);
          }
          const cpu = sum(mine.map((id) => alone.get(id)?.cpuMs ?? 0));
          const liveCpu = sum(turns.map((t) => t.replayCpuMs));
          allCpu += cpu;
          allCompletions += completions;
          maxHistory = Math.max(maxHistory, events);
          const per = cpu / Math.max(1, completions);
          if (level === 'root') perCompletion = per;
          report(`${tag}: ${level} replay CPU per completion (${mine.length} instance${mine.length === 1 ? '' : 's'})`, per, 'ms');
          report(`${tag}: ${level}: replay CPU per completion inside the live turns (includes concurrent work)`, liveCpu / Math.max(1, completions), 'ms');
          report(`${tag}: ${level}: completions per replay`, completions / Math.max(1, turns.length), '');
          report(`${tag}: ${level}: longest history`, events, 'events');
        }
        const overall = allCpu / Math.max(1, allCompletions);
        rows.push({ vms, perCompletion, overall, maxHistory });
        report(`${tag}: replay CPU per completion, every boot orchestration`, overall, 'ms');
        const root = probe.turns.filter((t) => t.instanceId === BOOT_ID && t.replayed);
        const rootReplayMs = sum(root.map((t) => t.replayMs));
        const hostMs = sum(probe.turns.map((t) => t.ms));
        const work = probe.activities.length + allCompletions;
        report(`${tag}: root replay total`, rootReplayMs, 'ms');
        // Turns of different instances overlap (each awaits the SDK), so this sum exceeds the wall time.
        report(`${tag}: host time (all turns, summed)`, hostMs, 'ms');
        report(`${tag}: host time per activity or completion`, hostMs / work, 'ms');
        report(`${tag}: process CPU`, (cpu.user + cpu.system) / 1000, 'ms');
        // The whole host's cost, stubs included: what must grow no faster than the platform.
        report(`${tag}: process CPU per VM`, (cpu.user + cpu.system) / 1000 / vms, 'ms');
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
    for (const r of rows.slice(1)) {
      report(`root replay CPU per completion, ${r.vms} VMs / ${first.vms} VMs`, r.perCompletion / first.perCompletion, 'x');
      report(`replay CPU per completion (every boot orchestration), ${r.vms} VMs / ${first.vms} VMs`, r.overall / first.overall, 'x');
      report(`longest history, ${r.vms} VMs / ${first.vms} VMs`, r.maxHistory / first.maxHistory, 'x');
    }
  }
}
