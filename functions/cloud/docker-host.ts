/**
 * Docker on one VM, driven over SSH: ensure the engine, images and containers. Every operation is an
 * "ensure": it reads first and changes only what differs, so running it twice changes nothing.
 * Tools are called by name (sudo, apt-get, docker, curl), never by absolute path.
 */
import { shellQuote } from './shell.js';
import { SshCommandError, tail, type SshHost } from './ssh.js';

export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface ContainerSpec {
  name: string;
  image: string;
  port: number;
  /** Further ports published as the same port on the VM (e.g. Kafka's external listener). */
  ports?: number[];
  /** Named volumes: volume name -> path in the container. They outlive the container. */
  volumes?: Record<string, string>;
  env: Record<string, string>;
  /** Values that are secrets: written to a root-only env file on the VM, never on a command line. */
  secretEnv?: Record<string, string>;
  restart?: RestartPolicy;
  /**
   * Docker labels (what the LCM knows of the container: service, replica, version, configuration
   * digests). A container whose labels differ from these is replaced, as one with another image is.
   */
  labels?: Record<string, string>;
  /** Labels set on a new container but not compared (what is only informational). */
  infoLabels?: Record<string, string>;
}

export interface ContainerState {
  exists: boolean;
  running: boolean;
  image?: string;
  startedAt?: string;
  restartCount?: number;
  labels?: Record<string, string>;
}

/** One container the LCM runs on a VM, as `docker ps` lists it. */
export interface ListedContainer {
  name: string;
  image: string;
  running: boolean;
  labels: Record<string, string>;
}

/** Labels are what `lcm.*` keys the LCM sets: plain tokens, so they survive the shell and docker's format. */
const LABEL = /^lcm\.[a-z]+=[A-Za-z0-9._:-]{0,128}$/;

export type EnsureContainerResult = ContainerState & { action: 'none' | 'started' | 'created' | 'replaced' };

/** A container a re-boot would take as running: what it must run, and how to probe it. */
export interface RunningCandidate {
  spec: Pick<ContainerSpec, 'name' | 'image' | 'labels'>;
  health: HealthCheck;
}

export interface HealthCheck {
  address: string;
  port: number;
  path: string;
  timeoutInMs: number;
}

const DOCKER = 'sudo -n docker';

export function imageName(service: string, tag: string): string {
  return `lcm/${service}:${tag}`;
}

/** Where an image's build log lives on the VM, relative to the admin's home. */
export function buildLogFile(image: string): string {
  return `.lcm/logs/build-${image.replace(/[^A-Za-z0-9.-]/g, '_')}.log`;
}

/**
 * Time bounds of the long SSH steps. Each runs in one activity, and the function timeout (host.json
 * functionTimeout, 30 min on Elastic Premium) ends an activity wherever it is: every activity's
 * steps together stay below it (fetch + build in prepareImage; cloud-init wait + install in ensureDocker).
 */
export const STEP_TIMEOUTS = {
  /** cloud-init's first boot (package upgrades) on a fresh VM. */
  cloudInitWaitSeconds: 600,
  /** apt waits this long for the dpkg lock that unattended-upgrades may hold. */
  dpkgLockSeconds: 600,
  installDocker: 22 * 60_000,
  fetchCode: 5 * 60_000,
  build: 20 * 60_000,
} as const;

/**
 * Installing Docker on a fresh VM. ARM reports it running while cloud-init (and then
 * unattended-upgrades) still runs apt: wait for cloud-init when it is there, and let apt wait for
 * the dpkg lock (DPkg::Lock::Timeout) instead of failing on it.
 */
export function installDockerScript(): string {
  const apt = `sudo -n apt-get -o DPkg::Lock::Timeout=${STEP_TIMEOUTS.dpkgLockSeconds}`;
  return [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    // `status --wait` exits non-zero when cloud-init ended with errors: that is no reason not to install.
    `if command -v cloud-init >/dev/null 2>&1; then sudo -n timeout ${STEP_TIMEOUTS.cloudInitWaitSeconds} cloud-init status --wait >/dev/null 2>&1 || true; fi`,
    `${apt} update -y`,
    `${apt} install -y docker.io curl`,
    'sudo -n systemctl enable --now docker',
    `${DOCKER} info >/dev/null`,
  ].join('\n');
}

export class DockerHost {
  constructor(private readonly ssh: SshHost) {}

  /** Installs Docker when absent. Returns whether it had to install. */
  async ensureDocker(): Promise<{ installed: boolean }> {
    // `docker version` asks the daemon for its version only (`docker info` gathers every driver's state).
    const probe = await this.ssh.run(`command -v docker >/dev/null 2>&1 && ${DOCKER} version --format '{{.Server.Version}}' >/dev/null 2>&1`, {
      allowFailure: true,
      step: 'check Docker',
    });
    if (probe.code === 0) return { installed: false };
    await this.ssh.run(installDockerScript(), { step: 'install Docker', timeoutInMs: STEP_TIMEOUTS.installDocker });
    return { installed: true };
  }

  /** Which of these images the VM has: one SSH command for all of them. */
  async presentImages(images: readonly string[]): Promise<Set<string>> {
    if (images.length === 0) return new Set();
    // One Docker call lists the tagged images (a VM holds tens): one per image costs a sudo and a
    // Docker client start each.
    const r = await this.ssh.run(`${DOCKER} images --format '{{.Repository}}:{{.Tag}}'`, { step: 'list images' });
    const tagged = new Set(r.stdout.split('\n').map((l) => l.trim()));
    return new Set(images.filter((image) => tagged.has(image)));
  }

  /**
   * Runs the fetch script (which downloads the code into `contextDir` on the VM) and builds the image.
   * A failed build reports the build's last lines.
   */
  async buildImage(image: string, contextDir: string, fetchScript: string, opts: { timeoutInMs?: number; logFile?: string; logHint?: string } = {}): Promise<void> {
    await this.ssh.run('bash -s', { stdin: fetchScript, step: `fetch the code of ${image}`, timeoutInMs: STEP_TIMEOUTS.fetchCode });
    // The build's output goes to a log file on the VM (read on demand), never into the error.
    const log = opts.logFile ?? buildLogFile(image);
    try {
      await this.ssh.run(`mkdir -p "$HOME/.lcm/logs" && ${DOCKER} build -t ${shellQuote(image)} ${shellQuote(contextDir)} > "$HOME/${log}" 2>&1`, {
        step: `docker build ${image}`,
        timeoutInMs: Math.min(opts.timeoutInMs ?? STEP_TIMEOUTS.build, STEP_TIMEOUTS.build),
      });
    } catch (e) {
      if (e instanceof SshCommandError) {
        throw new SshCommandError(e.vm, `docker build of ${image}`, e.code, e.output, `its log is ~/${log} on the VM${opts.logHint ? ` (${opts.logHint})` : ''}`);
      }
      throw e;
    }
  }

  /**
   * Starts the fetch and build of `image` on the VM, detached (a process of its own that outlives
   * this SSH command), and returns at once: the function app does not wait out a build of minutes.
   * Idempotent: the build's marker (`~/.lcm/builds/<image>/`, under a lock) makes a second start of
   * the same image find the running build, or the finished one, and never start another. A failed
   * build is reported as failed to its own run again; a later run (another boot) starts it anew, as
   * does any run when the marked process is gone without an outcome: its pid is dead, or the marker
   * was written under another boot of the kernel (the VM restarted: the pid may now be another
   * process's, see `BUILD_STATE`).
   * `fetchScript` (it holds SAS URLs) goes over stdin into a file only the admin user reads, removed
   * once the fetch ran.
   */
  async startBuild(image: string, contextDir: string, fetchScript: string, opts: { run: string }): Promise<BuildStatus | { state: 'started' }> {
    const key = buildKey(image);
    const dir = `"$HOME/.lcm/builds/${key}"`;
    const run = shellQuote(opts.run);
    // Runs detached: its outcome (exit code) lands in the marker, its output in the build log.
    const runner = [
      'd=$1; img=$2; ctx=$3',
      'cd "$HOME" || exit 1',
      `{ timeout ${Math.ceil(STEP_TIMEOUTS.fetchCode / 1000)} bash "$d/fetch.sh"; rc=$?; rm -f "$d/fetch.sh"`,
      `  if [ "$rc" -eq 0 ]; then timeout ${Math.ceil(STEP_TIMEOUTS.build / 1000)} ${DOCKER} build -t "$img" "$ctx"; rc=$?; fi; } > "$4" 2>&1`,
      'echo "$rc" > "$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"',
    ].join('\n');
    const script = [
      `d=${dir}`,
      'mkdir -p "$HOME/.lcm/builds" "$HOME/.lcm/logs" || exit 1',
      // Starters share the builds lock; only the marker sweep (pruneBuildMarkers) takes it alone.
      `exec 7>"$HOME/${BUILDS_LOCK}" && flock -s 7 || exit 1`,
      // One starter at a time per image: two reruns of the start activity cannot both start it.
      `exec 9>"$d.lock" && flock 9 || exit 1`,
      `if ${DOCKER} image inspect ${shellQuote(image)} >/dev/null 2>&1; then echo built; exit 0; fi`,
      BUILD_STATE,
      'if [ -d "$d" ]; then',
      '  if [ "$state" = finished ]; then',
      `    c=$(cat "$d/exit"); if [ "$c" != 0 ] && [ "$(cat "$d/run" 2>/dev/null)" = ${run} ]; then echo "failed $c"; exit 0; fi`,
      // Ended since the image check above: built, not to be started again.
      `    if [ "$c" = 0 ] && ${DOCKER} image inspect ${shellQuote(image)} >/dev/null 2>&1; then echo built; exit 0; fi`,
      '  elif [ "$state" = running ]; then echo running; exit 0; fi',
      '  rm -rf "$d"',
      'fi',
      'mkdir -p "$d" || exit 1',
      // The boot id first: from here on, a marker outliving this boot of the kernel is judged lost.
      'if [ -n "$boot" ]; then printf \'%s\\n\' "$boot" > "$d/boot" || exit 1; fi',
      `printf '%s\\n' ${run} > "$d/run"`,
      // Where the build fetches its code: the marker's sweep removes it with the marker.
      `printf '%s\\n' ${shellQuote(contextDir)} > "$d/ctx"`,
      '(umask 077 && cat > "$d/fetch.sh") || exit 1',
      // The detached build keeps neither lock: it would hold them for the whole build.
      `nohup setsid bash -c ${shellQuote(runner)} lcm-build "$d" ${shellQuote(image)} ${shellQuote(contextDir)} "$HOME/${buildLogFile(image)}" </dev/null >/dev/null 2>&1 7>&- 9>&- &`,
      'echo $! > "$d/pid"',
      'echo started',
    ].join('\n');
    const r = await this.ssh.run(script, { stdin: fetchScript, step: `start the build of ${image}` });
    const word = r.stdout.trim().split('\n').pop() ?? '';
    if (word === 'started') return { state: 'started' };
    return parseBuildStatus(image, word);
  }

  /** Where each build stands (one SSH command for all of them): built, running, or failed and why. */
  async pollBuilds(images: readonly string[]): Promise<Map<string, BuildStatus>> {
    if (images.length === 0) return new Map();
    const script = images
      .map((image) =>
        [
          `d="$HOME/.lcm/builds/${buildKey(image)}"`,
          `if ${DOCKER} image inspect ${shellQuote(image)} >/dev/null 2>&1; then echo built`,
          `else ${BUILD_STATE}`,
          // A build that ended between the image check and the marker's read is built, not failed.
          `  case $state in finished) c=$(cat "$d/exit"); if [ "$c" = 0 ] && ${DOCKER} image inspect ${shellQuote(image)} >/dev/null 2>&1; then echo built; else echo "failed $c"; fi;; missing) echo missing;; running) echo running;; *) echo lost;; esac`,
          'fi',
        ].join('\n'),
      )
      .join('\n');
    const r = await this.ssh.run(script, { step: 'poll image builds' });
    const lines = r.stdout.trim().split('\n');
    if (lines.length !== images.length) throw new Error(`VM: polling ${images.length} build(s) answered ${lines.length} line(s)`);
    return new Map(images.map((image, i) => [image, parseBuildStatus(image, lines[i]!.trim())]));
  }

  /**
   * Removes the build markers whose build is over (finished or lost) and that nothing touched for
   * `olderThanMinutes` (a day by default: every boot that could still ask for them is long done).
   * A running build's marker is never removed: each is judged under its image's lock, and the sweep
   * runs only when no starter is at work (it skips otherwise, to go again next time). Only folders
   * named as `buildKey` names them are considered, never a link. A removed marker's fetched code
   * (`~/.lcm/src/<step>/<version>`) goes with it, and build logs untouched for a week go too, so a
   * VM that boots for months does not fill its disk. Returns how many markers it removed.
   */
  async pruneBuildMarkers(olderThanMinutes = 24 * 60): Promise<number> {
    const minutes = Math.max(1, Math.floor(olderThanMinutes));
    const script = [
      'b="$HOME/.lcm/builds"; n=0',
      '[ -d "$b" ] || { echo 0; exit 0; }',
      `exec 7>"$HOME/${BUILDS_LOCK}" && flock -n -x 7 || { echo 0; exit 0; }`,
      `for k in $(find "$b" -mindepth 1 -maxdepth 1 -type d -mmin +${minutes} -printf '%f\\n'); do`,
      "  case $k in .*|*[!A-Za-z0-9._-]*) continue;; esac",
      '  d="$b/$k"',
      '  exec 9>"$d.lock" && flock -n 9 || continue',
      `  ${BUILD_STATE.split('\n').join('\n  ')}`,
      '  if [ "$state" = finished ] || [ "$state" = lost ]; then',
      // The code the build fetched goes too: a folder of the sources only, named plainly, reached
      // without following a link (find does not), never a path the marker could point elsewhere.
      '    src=$(cat "$d/ctx" 2>/dev/null)',
      '    case $src in .lcm/src/?*/?*) case $src in *..*|*[!A-Za-z0-9._/-]*) ;; *) find "$HOME/.lcm/src" -mindepth 2 -maxdepth 2 -type d -path "$HOME/$src" -exec rm -rf {} + 2>/dev/null;; esac;; esac',
      '    rm -rf "$d" "$d.lock" && n=$((n + 1))',
      '  fi',
      '  exec 9>&-',
      'done',
      // Build logs are read while their build is recent (the UI, a failure's report): a week.
      `[ -d "$HOME/.lcm/logs" ] && find "$HOME/.lcm/logs" -mindepth 1 -maxdepth 1 -type f -name 'build-*.log' -mmin +${LOG_KEEP_MINUTES} -delete 2>/dev/null`,
      'echo "$n"',
    ].join('\n');
    const r = await this.ssh.run(script, { step: 'remove old build markers' });
    const n = Number(r.stdout.trim().split('\n').pop());
    if (!Number.isInteger(n)) throw new Error(`VM: removing old build markers answered "${r.stdout.trim().slice(0, 80)}"`);
    return n;
  }

  /** The last lines of an image's build log on the VM ('' when there is none). */
  async buildLog(image: string, lines = 100): Promise<string> {
    const r = await this.ssh.run(`tail -n ${Math.max(1, Math.floor(lines))} "$HOME/${buildLogFile(image)}" 2>/dev/null`, { allowFailure: true, step: 'read the build log' });
    return r.code === 0 ? r.stdout : '';
  }

  /** The latest build log of a service's images on the VM, whichever tag it was. */
  async latestBuildLog(service: string, lines = 100): Promise<string> {
    const glob = `"$HOME/.lcm/logs/build-"${shellQuote(`lcm_${service}_`)}*.log`;
    const r = await this.ssh.run(`f=$(ls -t ${glob} 2>/dev/null | head -n 1); [ -n "$f" ] && tail -n ${Math.max(1, Math.floor(lines))} "$f"`, { allowFailure: true, step: 'read the build log' });
    return r.code === 0 ? r.stdout : '';
  }

  async containerState(name: string): Promise<ContainerState> {
    const r = await this.ssh.run(`${DOCKER} inspect --type container -f '${INSPECT_FORMAT}' ${shellQuote(name)} 2>/dev/null`, { allowFailure: true, step: 'inspect container' });
    if (r.code !== 0) return { exists: false, running: false };
    return parseInspect(r.stdout.trim());
  }

  /** Every container carrying the label `lcm.service` (those the LCM started), running or not. One SSH exec. */
  async listLcmContainers(): Promise<ListedContainer[]> {
    const r = await this.ssh.run(`${DOCKER} ps -a --filter label=lcm.service --format '{{.Names}}|{{.Image}}|{{.State}}|{{.Labels}}'`, {
      step: 'list containers',
    });
    return r.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const [name, image, state, labels] = line.split('|');
        return { name: name!, image: image ?? '', running: state === 'running', labels: parseLabels(labels ?? '') };
      });
  }

  /**
   * For each candidate, its container's state when it runs as specified (image and compared
   * labels, as ensureContainer would leave it untouched) and answers one health probe; undefined
   * when it is missing, stopped, different or not healthy. One SSH command for all of them: one
   * inspect of every container, the probes side by side. Changes nothing.
   */
  async runningHealthy(candidates: readonly RunningCandidate[]): Promise<Array<ContainerState | undefined>> {
    if (candidates.length === 0) return [];
    const script = [
      // Each probe reports on a line of its own (short lines: written whole even side by side).
      ...candidates.map(({ health }, i) => `( if ${curlCommand(health)}; then echo "H|${i}|0"; else echo "H|${i}|1"; fi ) &`),
      // Missing containers are left out of inspect's output (and make it exit 1): judged absent.
      `${DOCKER} inspect --type container -f 'C|{{.Name}}|${INSPECT_FORMAT}' ${candidates.map((c) => shellQuote(c.spec.name)).join(' ')} 2>/dev/null || true`,
      'wait',
    ].join('\n');
    const r = await this.ssh.run(script, { step: 'inspect and probe containers' });
    const states = new Map<string, ContainerState>();
    const healthy = new Set<number>();
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('C|')) {
        const [, name, ...rest] = line.trim().split('|');
        states.set(name!.replace(/^\//, ''), parseInspect(rest.join('|')));
      } else if (line.startsWith('H|')) {
        const [, i, code] = line.trim().split('|');
        if (code === '0') healthy.add(Number(i));
      }
    }
    return candidates.map(({ spec }, i) => {
      const state = states.get(spec.name);
      return state?.running && isCurrent(state, spec) && healthy.has(i) ? state : undefined;
    });
  }

  /** Makes the container run `spec.image`: nothing when it already does, else start, create or replace. */
  async ensureContainer(spec: ContainerSpec): Promise<EnsureContainerResult> {
    const state = await this.containerState(spec.name);
    if (isCurrent(state, spec)) {
      if (state.running) return { ...state, action: 'none' };
      await this.ssh.run(`${DOCKER} start ${shellQuote(spec.name)}`, { step: `start container ${spec.name}` });
      return { ...(await this.containerState(spec.name)), action: 'started' };
    }
    if (state.exists) await this.ssh.run(`${DOCKER} rm -f ${shellQuote(spec.name)}`, { step: `remove container ${spec.name}` });
    await this.run(spec);
    return { ...(await this.containerState(spec.name)), action: state.exists ? 'replaced' : 'created' };
  }

  async restartContainer(name: string): Promise<ContainerState> {
    await this.ssh.run(`${DOCKER} restart ${shellQuote(name)}`, { step: `restart container ${name}` });
    return this.containerState(name);
  }

  async removeContainer(name: string): Promise<void> {
    await this.ssh.run(`${DOCKER} rm -f ${shellQuote(name)} >/dev/null 2>&1 || true`, { step: `remove container ${name}` });
  }

  /** One probe of `http://address:port/path` from the VM itself. */
  async isHealthy(check: HealthCheck): Promise<boolean> {
    const r = await this.ssh.run(curlCommand(check), { allowFailure: true, step: 'health check' });
    return r.code === 0;
  }

  /** Probes from the VM until healthy or the deadline passes; one SSH exec for the whole wait. */
  async waitHealthy(check: HealthCheck, opts: { startupTimeoutInMs: number; intervalInMs?: number }): Promise<boolean> {
    const interval = Math.max(0.1, (opts.intervalInMs ?? 500) / 1000);
    const seconds = Math.max(1, Math.ceil(opts.startupTimeoutInMs / 1000));
    const script = [
      `deadline=$(( $(date +%s) + ${seconds} ))`,
      `until ${curlCommand(check)}; do`,
      '  [ "$(date +%s)" -ge "$deadline" ] && exit 1',
      `  sleep ${interval}`,
      'done',
    ].join('\n');
    const r = await this.ssh.run(script, { allowFailure: true, step: 'wait for health', timeoutInMs: opts.startupTimeoutInMs + 30_000 });
    return r.code === 0;
  }

  async logs(name: string, lines = 30): Promise<string> {
    const r = await this.ssh.run(`${DOCKER} logs --tail ${lines} ${shellQuote(name)} 2>&1`, { allowFailure: true, step: 'read logs' });
    return tail(r.stdout, lines);
  }

  private async run(spec: ContainerSpec): Promise<void> {
    const args = [
      'run -d',
      `--name ${shellQuote(spec.name)}`,
      ...[spec.port, ...(spec.ports ?? [])].map((p) => `-p ${p}:${p}`),
      ...Object.entries(spec.volumes ?? {}).map(([name, path]) => `-v ${shellQuote(`${name}:${path}`)}`),
      `--restart ${spec.restart ?? 'unless-stopped'}`,
      `-e ${shellQuote(`PORT=${spec.port}`)}`,
      ...Object.entries({ ...spec.infoLabels, ...spec.labels }).map(([k, v]) => {
        if (!LABEL.test(`${k}=${v}`)) throw new Error(`container ${spec.name}: label ${k.slice(0, 40)} is not an lcm.* token label`);
        return `--label ${shellQuote(`${k}=${v}`)}`;
      }),
      ...Object.entries(spec.env).map(([k, v]) => `-e ${shellQuote(`${k}=${v}`)}`),
    ];
    const secrets = Object.entries(spec.secretEnv ?? {});
    let prelude = '';
    if (secrets.length > 0) {
      // The env file is written from stdin, readable by the admin user only: the values never
      // appear on a command line. It lives in the admin's home (no writes outside it).
      const file = `$HOME/.lcm/env/${spec.name}.env`;
      prelude = `mkdir -p "$HOME/.lcm/env" && (umask 077 && cat > "${file}") && `;
      args.push(`--env-file "${file}"`);
    }
    await this.ssh.run(`${prelude}${DOCKER} ${args.join(' ')} ${shellQuote(spec.image)}`, {
      step: `docker run ${spec.name}`,
      stdin: secrets.length > 0 ? secrets.map(([k, v]) => `${k}=${v}`).join('\n') + '\n' : undefined,
    });
  }
}

/** The lock starters share and the marker sweep takes alone, relative to the admin's home. */
const BUILDS_LOCK = '.lcm/builds.lock';

/** Build logs untouched this long are removed by the marker sweep. */
const LOG_KEEP_MINUTES = 7 * 24 * 60;

/**
 * Shell lines setting `state` to what the marker `$d` tells of its build: missing (no marker),
 * finished (an exit code), running, or lost (no outcome and no process). `boot` is this boot of the
 * kernel's id. A pid is only worth checking within the boot that recorded it: after a reboot the
 * same pid may be any other process, so a marker from another boot is lost whatever `kill -0` says.
 * A marker without a boot id (written before boot ids were recorded) is judged by its pid alone;
 * one without a pid yet is a starter at work (it holds the image's lock while it writes).
 */
const BUILD_STATE = [
  'boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)',
  // The process is looked at before its outcome: a build writes its exit code, then ends, so one
  // seen ended here has its outcome written by the time the next line reads it (the other order
  // takes a build that ends between the two reads for lost).
  'pid=; alive=; if [ -f "$d/pid" ]; then pid=1; kill -0 "$(cat "$d/pid")" 2>/dev/null && alive=1; fi',
  'if [ ! -d "$d" ]; then state=missing',
  'elif [ -f "$d/exit" ]; then state=finished',
  'elif [ -f "$d/boot" ] && [ -n "$boot" ] && [ "$(cat "$d/boot")" != "$boot" ]; then state=lost',
  'elif [ -z "$pid" ] || [ -n "$alive" ]; then state=running',
  'else state=lost; fi',
].join('\n');

/** A build as the VM's marker tells it. */
export type BuildStatus = { state: 'built' } | { state: 'running' } | { state: 'failed'; reason: string };

/** The marker folder's name of an image's build (the log file's naming). */
function buildKey(image: string): string {
  return image.replace(/[^A-Za-z0-9.-]/g, '_');
}

function parseBuildStatus(image: string, word: string): BuildStatus {
  const where = `its log is ~/${buildLogFile(image)} on the VM`;
  if (word === 'built') return { state: 'built' };
  if (word === 'running') return { state: 'running' };
  if (word === 'missing') return { state: 'failed', reason: `no build of ${image} was started on the VM` };
  if (word === 'lost') return { state: 'failed', reason: `the build of ${image} stopped without an outcome (the VM restarted?); ${where}` };
  const failed = /^failed (\d+)$/.exec(word);
  if (failed) {
    const code = Number(failed[1]);
    const why = code === 0 ? 'ended without an image' : code === 124 ? 'timed out' : `exited ${code}`;
    return { state: 'failed', reason: `the fetch and build of ${image} ${why}; ${where}` };
  }
  throw new Error(`build of ${image}: the VM answered "${word.slice(0, 80)}"`);
}

/** What containerState reads of a container, `|`-separated (see parseInspect). */
const INSPECT_FORMAT = '{{.State.Running}}|{{.Config.Image}}|{{.State.StartedAt}}|{{.RestartCount}}|{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}';

function parseInspect(line: string): ContainerState {
  const [running, image, startedAt, restartCount, labels] = line.split('|');
  return { exists: true, running: running === 'true', image, startedAt, restartCount: Number(restartCount) || 0, labels: parseLabels(labels ?? '') };
}

/** `a=1,b=2,` (inspect's range) or `a=1,b=2` (ps's .Labels) -> the lcm.* labels. */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.startsWith('lcm.')) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * One definition of a container that needs no change: its image and every wanted lcm.* label as
 * wanted (a spec without labels matches any container of that image).
 */
function isCurrent(state: ContainerState, spec: Pick<ContainerSpec, 'image' | 'labels'>): boolean {
  const actual = state.labels ?? {};
  return state.exists && state.image === spec.image && Object.entries(spec.labels ?? {}).every(([k, v]) => actual[k] === v);
}

function curlCommand(check: HealthCheck): string {
  const url = `http://${check.address}:${check.port}${check.path}`;
  return `curl -fsS -o /dev/null --max-time ${Math.max(1, Math.ceil(check.timeoutInMs / 1000))} ${shellQuote(url)}`;
}
