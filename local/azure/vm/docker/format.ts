/** Docker's human-readable columns: durations, statuses, ports, padded tables. */
import type { ContainerRecord } from './container.js';

/** Go's units.HumanDuration, as `docker ps` prints it. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  return `${Math.floor(h / 24 / 7)} weeks`;
}

export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.state;
  switch (s.status) {
    case 'running':
      return `Up ${humanDuration(now - s.startedAt)}`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${humanDuration(now - s.finishedAt)} ago`;
    case 'exited':
      return `Exited (${s.exitCode}) ${humanDuration(now - s.finishedAt)} ago`;
    default:
      return 'Created';
  }
}

export function portsText(rec: ContainerRecord, ip: string): string {
  if (rec.state.status !== 'running') return '';
  return rec.ports.map((p) => `${ip}:${p.hostPort}->${p.containerPort}/tcp`).join(', ');
}

export function commandText(cmd: string[]): string {
  const text = cmd.join(' ');
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

/** Columns separated by at least three spaces, like docker's tabwriter output. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

export function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  return `${(bytes / 1e6).toFixed(1)}MB`;
}
