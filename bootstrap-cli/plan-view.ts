/** Rendering a plan for people (a table) and for programs (JSON). */
import type { Plan } from '../functions/platform/plan.js';

export function planJson(plan: Plan) {
  return {
    vms: plan.vms,
    ...(plan.kafka ? { kafka: plan.kafka } : {}),
    services: plan.services.map(({ name, vm, kind, dependsOn, level, monitoring }) => ({
      name,
      vm,
      kind,
      dependsOn,
      level,
      ...(monitoring ? { role: 'monitoring' } : {}),
    })),
    levels: plan.levels,
    byVm: plan.byVm,
  };
}

export function planTable(plan: Plan): string {
  const rows: string[][] = [['LEVEL', 'STEP', 'KIND', 'VM', 'AFTER']];
  if (plan.kafka) rows.push(['0', 'kafka', 'broker', plan.kafka.vm, '-']);
  for (const s of [...plan.services].sort((a, b) => a.level - b.level || a.name.localeCompare(b.name))) {
    rows.push([String(s.level), s.name + (s.monitoring ? ' (monitoring)' : ''), s.kind, s.vm, s.dependsOn.join(', ') || '-']);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
  const summary = `${plan.vms.length} VMs, ${plan.services.length} services, ${plan.levels.length} levels`;
  const perVm = Object.entries(plan.byVm).map(([vm, steps]) => `  ${vm}: ${steps.join(' -> ') || '(nothing placed)'}`);
  return [...lines, '', summary, 'Per VM:', ...perVm].join('\n');
}
