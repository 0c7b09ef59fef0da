/**
 * Live boot progress from the boot's custom status (`BootProgress`: names grouped by state). One row
 * per VM and per step (Kafka and services, under their VM). On a terminal the rows are redrawn in
 * place with plain ANSI escapes (cursor up, clear line); elsewhere one line per state change.
 */
import type { BootProgress } from '../functions/platform/boot-state.js';
import type { Plan } from '../functions/platform/plan.js';

/** What rows exist and in which order: each VM with its steps in plan order. */
export interface ProgressLayout {
  vms: Array<{ name: string; steps: string[] }>;
}

export interface ProgressRow {
  kind: 'vm' | 'service';
  name: string;
  vm: string;
  state: string;
}

export function layoutOf(plan: Plan): ProgressLayout {
  return { vms: plan.vms.map((vm) => ({ name: vm, steps: plan.byVm[vm] ?? [] })) };
}

/** Name -> state; `others` is the state of every name not listed (a compacted status of a large boot). */
function stateIndex(groups: Partial<Record<string, string[]>> | undefined, others?: string): { get(name: string): string | undefined } {
  const out = new Map<string, string>();
  for (const [state, names] of Object.entries(groups ?? {})) for (const n of names ?? []) out.set(n, state);
  return { get: (name) => out.get(name) ?? others };
}

/** Rows in layout order; a name the snapshot does not mention is `pending`. */
export function progressRows(layout: ProgressLayout, progress: BootProgress | null | undefined): ProgressRow[] {
  const known = !progress?.truncated;
  const vmState = stateIndex(progress?.vms, known ? progress?.others?.vms : undefined);
  const stepState = stateIndex(progress?.services, known ? progress?.others?.services : undefined);
  const rows: ProgressRow[] = [];
  for (const vm of layout.vms) {
    rows.push({ kind: 'vm', name: vm.name, vm: vm.name, state: vmState.get(vm.name) ?? 'pending' });
    for (const step of vm.steps) rows.push({ kind: 'service', name: step, vm: vm.name, state: stepState.get(step) ?? 'pending' });
  }
  return rows;
}

/** `boot starting: 3/9 services running, 1 failed` */
export function summaryLine(rows: ProgressRow[], phase: string | undefined): string {
  const services = rows.filter((r) => r.kind === 'service');
  const running = services.filter((r) => r.state === 'running').length;
  const failed = services.filter((r) => r.state === 'failed').length;
  const blocked = services.filter((r) => r.state === 'blocked').length;
  const vmsUp = rows.filter((r) => r.kind === 'vm' && r.state === 'running').length;
  const vms = rows.filter((r) => r.kind === 'vm').length;
  const extra = [failed ? `${failed} failed` : '', blocked ? `${blocked} blocked` : ''].filter(Boolean).join(', ');
  return `boot ${phase ?? 'pending'}: ${vmsUp}/${vms} VMs up, ${running}/${services.length} services running${extra ? `, ${extra}` : ''}`;
}

/** Plain mode: one line per row whose state changed since the last snapshot (every row starts pending). */
export class LineProgress {
  private readonly last = new Map<string, string>();
  constructor(private readonly layout: ProgressLayout) {}

  update(progress: BootProgress | null | undefined): string[] {
    const lines: string[] = [];
    for (const row of progressRows(this.layout, progress)) {
      const key = `${row.kind}:${row.name}`;
      if ((this.last.get(key) ?? 'pending') === row.state) continue;
      this.last.set(key, row.state);
      lines.push(row.kind === 'vm' ? `vm ${row.name}: ${row.state}` : `service ${row.name} (${row.vm}): ${row.state}`);
    }
    return lines;
  }
}

const GLYPH: Record<string, string> = { running: '✔', failed: '✖', blocked: '⊘', pending: '·' };

/** Terminal mode: a frame that overwrites the previous one in place. */
export class FrameProgress {
  private height = 0;
  private readonly width: number;
  constructor(private readonly layout: ProgressLayout) {
    this.width = Math.max(12, ...layout.vms.flatMap((vm) => [vm.name.length, ...vm.steps.map((s) => s.length + 2)]));
  }

  /** The escape-prefixed text for this snapshot; `elapsedMs` shows in the summary when given. */
  frame(progress: BootProgress | null | undefined, elapsedMs?: number): string {
    const rows = progressRows(this.layout, progress);
    const elapsed = elapsedMs === undefined ? '' : ` (${(elapsedMs / 1000).toFixed(0)} s)`;
    const lines = [
      summaryLine(rows, progress?.phase) + elapsed,
      ...rows.map((r) => {
        const label = r.kind === 'vm' ? r.name : `  ${r.name}`;
        return `${GLYPH[r.state] ?? '…'} ${label.padEnd(this.width)}  ${r.state}`;
      }),
    ];
    const up = this.height > 0 ? `\x1b[${this.height}A` : '';
    this.height = lines.length;
    return up + lines.map((l) => `\x1b[2K${l}\n`).join('');
  }
}
