/** Probes tests use to prove that nothing was left behind: listening ports and live processes. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** True when something accepts a TCP connection at host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** True while the process exists and is not a zombie (a killed child not yet reaped counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * This machine's IPv4 routes. A VM network that was removed leaves no route to its subnets, so
 * nothing here can listen on them (and a TCP probe would leave the machine by the default route).
 */
export function localRoutes(): string {
  return execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
}
