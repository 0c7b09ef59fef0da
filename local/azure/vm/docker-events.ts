/**
 * What happened on a VM's Docker engine, from the engine itself: a `docker events` stream per VM,
 * followed across engine restarts, turned into the fleet's event kinds (run, build, start,
 * restart, stop, rm, exit, crash) with their cause (cli, policy, boot, control, process).
 * Containers of `docker build` steps (their image is an id, not a name) are not counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DockerEvent } from './types.js';

interface RawEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

interface ContainerTrack {
  last?: string;
  /** A kill/stop asked for through the CLI or the fleet: the next die is not the process's own. */
  killed?: boolean;
  crashedByControl?: boolean;
}

export class DockerEventLog {
  private proc?: ChildProcess;
  private timer?: NodeJS.Timeout;
  private lastNano = 0;
  private readonly seen = new Set<string>();
  private readonly tracks = new Map<string, ContainerTrack>();
  private daemonUpAt = 0;
  private stopped = true;

  constructor(
    private readonly socket: () => string | undefined,
    private readonly record: (e: Omit<DockerEvent, 'at'> & { at?: number }) => void,
    private readonly amend: (match: (e: DockerEvent) => boolean, change: Partial<DockerEvent>) => void,
    /** Epoch ms the VM booted: what the engine did from then on is read back (the follower attaches late). */
    since: number,
  ) {
    this.lastNano = since * 1e6;
  }

  /** Follows the engine while the VM runs (it may come up later, after `apt-get install docker.io`). */
  start(): void {
    this.stopped = false;
    this.daemonUpAt = 0;
    const tick = () => {
      if (this.stopped) return;
      if (!this.proc) this.follow();
      this.timer = setTimeout(tick, 250);
    };
    tick();
  }

  /** The fleet is about to kill a container: its die is a crash, its policy restart a policy restart. */
  markCrash(container: string): void {
    const t = this.track(container);
    t.crashedByControl = true;
    t.killed = true;
  }

  private track(name: string): ContainerTrack {
    let t = this.tracks.get(name);
    if (!t) this.tracks.set(name, (t = {}));
    return t;
  }

  private follow(): void {
    const sock = this.socket();
    if (!sock) return;
    const args = ['events', '--format', '{{json .}}'];
    if (this.lastNano) args.push('--since', (this.lastNano / 1e9).toFixed(9));
    const proc = spawn('docker', args, { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${sock}` }, stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc = proc;
    const connectedAt = Date.now();
    proc.once('error', () => undefined);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (!this.daemonUpAt) this.daemonUpAt = connectedAt;
      // (events replayed by --since are older than connectedAt: they count as boot-time ones)
      try {
        this.handle(JSON.parse(line) as RawEvent);
      } catch {
        // not an event line
      }
    });
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = undefined;
      this.daemonUpAt = 0;
    });
  }

  private handle(ev: RawEvent): void {
    const key = `${ev.timeNano}|${ev.Actor?.ID}|${ev.Action}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (ev.timeNano) this.lastNano = Math.max(this.lastNano, ev.timeNano);
    const at = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : Date.now();
    const attrs = ev.Actor?.Attributes ?? {};
    const action = (ev.Action ?? '').split(':')[0]!;
    if (ev.Type === 'image' && action === 'tag') {
      this.record({ at, kind: 'build', by: 'cli', image: attrs['name'] });
      return;
    }
    if (ev.Type !== 'container') return;
    const image = attrs['image'] ?? '';
    if (image.startsWith('sha256:')) return; // a build step's container
    const name = attrs['name'] ?? ev.Actor?.ID ?? '?';
    const t = this.track(name);
    const prev = t.last;
    t.last = action;
    switch (action) {
      case 'create':
        this.record({ at, kind: 'run', by: 'cli', container: name, image });
        break;
      case 'start':
        if (prev === 'create') break; // part of docker run
        if (t.crashedByControl || (prev === 'die' && !t.killed)) this.record({ at, kind: 'restart', by: 'policy', container: name, image });
        else if (prev === undefined && this.daemonUpAt && at - this.daemonUpAt < 15_000) this.record({ at, kind: 'start', by: 'boot', container: name, image });
        else this.record({ at, kind: 'start', by: 'cli', container: name, image });
        t.crashedByControl = false;
        t.killed = false;
        break;
      case 'restart':
        // `docker restart` = kill, die, stop, start, restart: the start just recorded was this restart.
        this.amend((e) => e.container === name && e.kind === 'start' && e.by === 'cli', { kind: 'restart' });
        break;
      case 'kill':
        t.killed = true;
        break;
      case 'die':
        if (!t.killed) this.record({ at, kind: 'exit', by: 'process', container: name, image, detail: `exit code ${attrs['exitCode'] ?? '?'}` });
        break;
      case 'stop':
        this.record({ at, kind: 'stop', by: 'cli', container: name, image });
        t.killed = false;
        break;
      case 'destroy':
        this.record({ at, kind: 'rm', by: 'cli', container: name, image });
        this.tracks.delete(name);
        break;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }
}
