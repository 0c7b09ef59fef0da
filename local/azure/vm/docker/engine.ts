/**
 * The in-process Docker engine of one emulated VM: what the docker CLI stand-in talks to. It keeps
 * images and containers (persisted in the VM's sandbox), answers the CLI's subcommands the LCM uses
 * with docker's texts and exit codes, and powers containers down and up with the VM.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DockerEventKind, DockerEventSource, SpecialImage } from '../types.js';
import { all, has, last, parseArgs, UsageError, type ParsedArgs } from './args.js';
import { Container, StartError, type ContainerRecord, type PortBinding, type RestartPolicyName } from './container.js';
import { effectiveCommand } from './dockerfile.js';
import { commandText, humanDuration, portsText, sizeText, statusText, table } from './format.js';
import { BuildError, buildImage, normalizeRef, specialBaseOf, type ImageRecord } from './images.js';
import { renderTemplate, tableHeader } from './template.js';

export interface EngineRequest { args: string[]; cwd: string; stdin?: string }
export interface EngineReply { stdout: string; stderr: string; code: number }

export interface EngineOptions {
  vm: string;
  ip: () => string;
  stateDir: string;
  path: string;
  token: string;
  tokenVar: string;
  specials: Record<string, SpecialImage>;
  restartDelayMs: number;
  restartDelayMaxMs: number;
  stopGraceMs: number;
  record: (e: { kind: DockerEventKind; by: DockerEventSource; container?: string; image?: string; detail?: string }) => void;
}

const VERSION = '24.0.7';
const ok = (stdout = ''): EngineReply => ({ stdout, stderr: '', code: 0 });
const err = (stderr: string, code = 1): EngineReply => ({ stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n`, code });
const iso = (ms: number): string => (ms ? new Date(ms).toISOString() : '0001-01-01T00:00:00Z');

const RUN_VALUE_FLAGS = [
  '--name', '-p', '--publish', '--restart', '-e', '--env', '--env-file', '--network', '--net', '-v', '--volume',
  '-w', '--workdir', '-h', '--hostname', '-u', '--user', '-l', '--label', '-m', '--memory', '--cpus', '-c',
  '--cpu-shares', '--log-driver', '--log-opt', '--entrypoint', '--health-cmd', '--health-interval',
  '--health-retries', '--health-timeout', '--health-start-period', '--add-host', '--mount', '--pull', '--platform',
  '--stop-timeout', '--stop-signal', '--ulimit', '--cap-add', '--cap-drop', '--dns', '--expose', '--ip', '--pid',
  '--shm-size', '--tmpfs', '--device', '--cidfile', '-a', '--attach', '--memory-swap', '--network-alias',
];

export class DockerEngine {
  private images: ImageRecord[] = [];
  private containers = new Map<string, Container>();
  private readonly stateFile: string;
  private readonly imageDir: string;

  constructor(private readonly opts: EngineOptions) {
    this.stateFile = join(opts.stateDir, 'state.json');
    this.imageDir = join(opts.stateDir, 'images');
    this.load();
  }

  // ---- persistence -------------------------------------------------------------------------

  private load(): void {
    if (!existsSync(this.stateFile)) return;
    const state = JSON.parse(readFileSync(this.stateFile, 'utf8')) as { images: ImageRecord[]; containers: ContainerRecord[] };
    this.images = state.images;
    for (const rec of state.containers) {
      // Left running by a fleet that ended without powering off: the VM lost power.
      if (rec.state.status === 'running' || rec.state.status === 'restarting') {
        Object.assign(rec.state, { status: 'exited', exitCode: 255, finishedAt: Date.now(), pid: 0, runningAtPowerOff: true });
      }
      this.containers.set(rec.name, this.wrap(rec));
    }
  }

  private save(): void {
    mkdirSync(this.opts.stateDir, { recursive: true });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ images: this.images, containers: [...this.containers.values()].map((c) => c.rec) }, null, 1));
    renameSync(tmp, this.stateFile);
  }

  private wrap(rec: ContainerRecord): Container {
    return new Container(rec, {
      vm: this.opts.vm,
      ip: this.opts.ip,
      path: this.opts.path,
      token: this.opts.token,
      tokenVar: this.opts.tokenVar,
      specials: this.opts.specials,
      restartDelayMs: this.opts.restartDelayMs,
      restartDelayMaxMs: this.opts.restartDelayMaxMs,
      record: (kind, by, container, detail) => this.opts.record({ kind, by, container, image: rec.image, detail }),
      save: () => this.save(),
    });
  }

  // ---- power -------------------------------------------------------------------------------

  /** VM powered on: restart what Docker's daemon restarts at boot. */
  async boot(): Promise<void> {
    for (const c of this.containers.values()) {
      if (!c.startsAtBoot()) continue;
      try {
        await c.start();
        this.opts.record({ kind: 'start', by: 'boot', container: c.rec.name, image: c.rec.image });
      } catch (e) {
        this.opts.record({ kind: 'start', by: 'boot', container: c.rec.name, image: c.rec.image, detail: `failed: ${(e as Error).message}` });
      }
    }
  }

  /** VM powered off: every service ends (graceMs 0 = power loss); definitions stay. */
  async powerDown(graceMs: number): Promise<void> {
    await Promise.all([...this.containers.values()].map((c) => c.powerDown(graceMs)));
  }

  pids(): number[] {
    return [...this.containers.values()].flatMap((c) => c.pids());
  }

  container(name: string): Container | undefined {
    return this.find(name);
  }

  // ---- CLI ---------------------------------------------------------------------------------

  async handle(req: EngineRequest): Promise<EngineReply> {
    let args = [...req.args];
    // Global flags before the subcommand (-H, --context, --log-level, -D) do not matter here.
    while (args[0]?.startsWith('-')) args = args.slice(['-H', '--host', '--context', '-c', '--log-level', '-l', '--config'].includes(args[0]) ? 2 : 1);
    let [cmd, ...rest] = args;
    if ((cmd === 'container' || cmd === 'image' || cmd === 'builder' || cmd === 'buildx') && rest.length) {
      const sub = rest[0];
      const map: Record<string, string> = cmd === 'image'
        ? { ls: 'images', list: 'images', inspect: 'image-inspect', rm: 'rmi', remove: 'rmi', build: 'build', pull: 'pull', prune: 'prune' }
        : cmd === 'container'
          ? { ls: 'ps', list: 'ps', prune: 'prune' }
          : { build: 'build', prune: 'prune' };
      cmd = map[sub] ?? sub;
      rest = rest.slice(1);
    }
    try {
      switch (cmd) {
        case undefined:
        case '--help':
        case 'help':
          return ok('Usage:  docker [OPTIONS] COMMAND (emulated engine of an LCM local VM)\n');
        case '__lcm-event':
          this.opts.record({ kind: 'install', by: 'cli', image: rest[1], detail: rest[2] || undefined });
          return ok();
        case 'info':
          return this.info(rest);
        case 'version':
          return this.version(rest);
        case 'build':
          return this.build(rest, req.cwd);
        case 'images':
          return this.listImages(rest);
        case 'image-inspect':
          return this.inspect(rest, 'image');
        case 'inspect':
          return this.inspect(rest, undefined);
        case 'rmi':
          return this.rmi(rest);
        case 'pull':
          return this.pull(rest);
        case 'run':
          return await this.run(rest, req.cwd, true);
        case 'create':
          return await this.run(rest, req.cwd, false);
        case 'ps':
          return this.ps(rest);
        case 'start':
          return await this.each(rest, [], async (c) => {
            if (c.running) return;
            await c.start();
            this.opts.record({ kind: 'start', by: 'cli', container: c.rec.name, image: c.rec.image });
          });
        case 'stop':
        case 'kill':
          return await this.each(rest, ['-t', '--time', '-s', '--signal'], async (c, p) => {
            const t = last(p, '-t', '--time');
            await c.stop(cmd === 'kill' ? 0 : t !== undefined ? Number(t) * 1000 : this.opts.stopGraceMs);
            this.opts.record({ kind: 'stop', by: 'cli', container: c.rec.name, image: c.rec.image, detail: cmd === 'kill' ? 'kill' : undefined });
          });
        case 'restart':
          return await this.each(rest, ['-t', '--time'], async (c, p) => {
            const t = last(p, '-t', '--time');
            await c.stop(t !== undefined ? Number(t) * 1000 : this.opts.stopGraceMs);
            await c.start();
            this.opts.record({ kind: 'restart', by: 'cli', container: c.rec.name, image: c.rec.image });
          });
        case 'rm':
          return await this.rm(rest);
        case 'logs':
          return this.logs(rest);
        case 'login':
          return ok('Login Succeeded\n');
        case 'prune':
        case 'system':
          return ok('Total reclaimed space: 0B\n');
        case 'network':
        case 'volume':
          return ok();
        default:
          return err(`docker: '${cmd}' is not a docker command (emulated engine of VM ${this.opts.vm}).\nSee 'docker --help'`);
      }
    } catch (e) {
      if (e instanceof UsageError) return err(`${e.message}\nSee 'docker ${cmd} --help'.`, 125);
      if (e instanceof StartError) return err(`Error response from daemon: ${e.message}`, e.code);
      return err(`Error response from daemon: ${(e as Error).message}`);
    }
  }

  private find(nameOrId: string): Container | undefined {
    const byName = this.containers.get(nameOrId.replace(/^\//, ''));
    if (byName) return byName;
    if (nameOrId.length < 3) return undefined;
    return [...this.containers.values()].find((c) => c.rec.id.startsWith(nameOrId));
  }

  private findImage(ref: string): ImageRecord | undefined {
    const norm = normalizeRef(ref);
    return (
      this.images.find((i) => i.tags.includes(norm)) ??
      (ref.length >= 3 ? this.images.find((i) => i.id === ref || i.id.startsWith(`sha256:${ref.replace(/^sha256:/, '')}`)) : undefined)
    );
  }

  private info(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['-f', '--format']);
    const cs = [...this.containers.values()];
    const data = {
      ServerVersion: VERSION,
      Containers: cs.length,
      ContainersRunning: cs.filter((c) => c.running).length,
      ContainersPaused: 0,
      ContainersStopped: cs.filter((c) => !c.running).length,
      Images: this.images.length,
      Driver: 'emulated',
      Name: this.opts.vm,
      OperatingSystem: 'Ubuntu 22.04 LTS (emulated VM)',
      OSType: 'linux',
      Architecture: 'x86_64',
    };
    const format = last(p, '-f', '--format');
    if (format) return ok(renderTemplate(format, data) + '\n');
    return ok(
      `Client:\n Version:    ${VERSION}\n Context:    default\n\nServer:\n Containers: ${data.Containers}\n  Running: ${data.ContainersRunning}\n  Paused: 0\n  Stopped: ${data.ContainersStopped}\n Images: ${data.Images}\n Server Version: ${VERSION}\n Storage Driver: emulated\n Operating System: ${data.OperatingSystem}\n Name: ${this.opts.vm}\n`,
    );
  }

  private version(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['-f', '--format']);
    const side = { Version: VERSION, ApiVersion: '1.43', Os: 'linux', Arch: 'amd64' };
    const data = { Client: side, Server: side };
    const format = last(p, '-f', '--format');
    if (format) return ok(renderTemplate(format, data) + '\n');
    return ok(`Client:\n Version:           ${VERSION}\n API version:       1.43\n\nServer: Docker Engine (emulated)\n Engine:\n  Version:          ${VERSION}\n  API version:      1.43\n`);
  }

  private build(rest: string[], cwd: string): EngineReply {
    const p = parseArgs(rest, ['-t', '--tag', '-f', '--file', '--build-arg', '--target', '--platform', '--label', '--network', '--progress', '--cache-from', '--iidfile']);
    if (p.positional.length !== 1) return err(`"docker build" requires exactly 1 argument.\nSee 'docker build --help'.`);
    const tags = all(p, '-t', '--tag').map(normalizeRef);
    const bad = tags.find((t) => t !== t.toLowerCase() && t.split(':')[0] !== t.split(':')[0].toLowerCase());
    if (bad) return err(`invalid argument "${bad}" for "-t, --tag" flag: invalid reference format: repository name must be lowercase`, 125);
    const file = last(p, '-f', '--file');
    const context = resolve(cwd, p.positional[0]);
    let result;
    try {
      result = buildImage({
        context,
        dockerfile: file ? resolve(cwd, file) : undefined,
        tags,
        storeDir: this.imageDir,
        specialBases: Object.keys(this.opts.specials),
        existing: (id) => this.images.find((i) => i.id === id),
      });
    } catch (e) {
      if (!(e instanceof BuildError)) throw e;
      this.opts.record({ kind: 'build', by: 'cli', image: tags[0], detail: `failed: ${e.message.split('\n').pop()}` });
      return err(e.message, e.code);
    }
    const { image } = result;
    for (const other of this.images) other.tags = other.tags.filter((t) => !tags.includes(t));
    image.tags = [...new Set([...image.tags, ...tags])];
    if (!this.images.includes(image)) this.images.push(image);
    this.save();
    this.opts.record({ kind: 'build', by: 'cli', image: tags[0] ?? image.id.slice(7, 19) });
    return ok(has(p, '-q', '--quiet') ? `${image.id}\n` : result.log);
  }

  private imageRows(): { rec: ImageRecord; repo: string; tag: string }[] {
    return this.images.flatMap((rec) =>
      rec.tags.length
        ? rec.tags.map((t) => {
            const at = t.lastIndexOf(':');
            return { rec, repo: t.slice(0, at), tag: t.slice(at + 1) };
          })
        : [{ rec, repo: '<none>', tag: '<none>' }],
    );
  }

  private listImages(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['--format', '-f', '--filter']);
    let rows = this.imageRows();
    const repo = p.positional[0];
    if (repo) rows = rows.filter((r) => r.repo === repo.split(':')[0] && (!repo.includes(':') || r.tag === repo.split(':')[1]));
    const now = Date.now();
    const data = rows.map((r) => ({
      ID: r.rec.id.slice(7, 19),
      Repository: r.repo,
      Tag: r.tag,
      CreatedSince: `${humanDuration(now - r.rec.created)} ago`,
      CreatedAt: new Date(r.rec.created).toISOString(),
      Size: sizeText(r.rec.size),
    }));
    if (has(p, '-q', '--quiet')) return ok(data.map((d) => d.ID).join('\n') + (data.length ? '\n' : ''));
    const format = last(p, '--format');
    if (format) return ok(this.formatRows(format, data, { ID: 'IMAGE ID', CreatedSince: 'CREATED', Repository: 'REPOSITORY' }));
    return ok(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], data.map((d) => [d.Repository, d.Tag, d.ID, d.CreatedSince, d.Size])));
  }

  private formatRows(format: string, rows: object[], headers: Record<string, string>): string {
    const isTable = format.startsWith('table');
    const body = isTable ? format.replace(/^table\s*/, '') : format;
    const lines = rows.map((r) => renderTemplate(body, r));
    if (isTable) lines.unshift(tableHeader(body, headers));
    return lines.map((l) => `${l}\n`).join('');
  }

  private imageJson(i: ImageRecord): object {
    return {
      Id: i.id,
      RepoTags: i.tags,
      Created: iso(i.created),
      Os: 'linux',
      Architecture: 'amd64',
      Size: i.size,
      Config: {
        Cmd: i.cmd ?? null,
        Entrypoint: i.entrypoint ?? null,
        Env: Object.entries(i.env).map(([k, v]) => `${k}=${v}`),
        ExposedPorts: Object.fromEntries(i.expose.map((p) => [`${p}/tcp`, {}])),
        WorkingDir: i.workdir,
        Labels: { 'lcm.emulated.from': i.from },
      },
    };
  }

  private containerJson(c: Container): object {
    const r = c.rec;
    const s = r.state;
    const ip = this.opts.ip();
    const bindings = Object.fromEntries(r.ports.map((p) => [`${p.containerPort}/tcp`, [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }]]));
    return {
      Id: r.id,
      Created: iso(r.created),
      Path: r.cmd[0] ?? '',
      Args: r.cmd.slice(1),
      State: {
        Status: s.status,
        Running: s.status === 'running',
        Paused: false,
        Restarting: s.status === 'restarting',
        OOMKilled: false,
        Dead: false,
        Pid: s.pid,
        ExitCode: s.exitCode,
        Error: '',
        StartedAt: iso(s.startedAt),
        FinishedAt: iso(s.finishedAt),
      },
      Image: r.imageId,
      Name: `/${r.name}`,
      RestartCount: s.restartCount,
      HostConfig: { RestartPolicy: { Name: r.restart.name, MaximumRetryCount: r.restart.max }, PortBindings: bindings },
      Config: {
        Hostname: r.id.slice(0, 12),
        Image: r.image,
        Env: Object.entries(r.env).map(([k, v]) => `${k}=${v}`),
        Cmd: r.cmd,
        ExposedPorts: Object.fromEntries(r.ports.map((p) => [`${p.containerPort}/tcp`, {}])),
        WorkingDir: r.cwd,
      },
      NetworkSettings: { IPAddress: ip, Ports: s.status === 'running' ? bindings : {} },
    };
  }

  private inspect(rest: string[], only: 'image' | 'container' | undefined): EngineReply {
    const p = parseArgs(rest, ['-f', '--format', '--type']);
    const type = (last(p, '--type') as 'image' | 'container' | undefined) ?? only;
    if (p.positional.length === 0) return err(`"docker inspect" requires at least 1 argument.`);
    const found: object[] = [];
    const missing: string[] = [];
    for (const name of p.positional) {
      const c = type !== 'image' ? this.find(name) : undefined;
      const i = !c && type !== 'container' ? this.findImage(name) : undefined;
      if (c) found.push(this.containerJson(c));
      else if (i) found.push(this.imageJson(i));
      else missing.push(name);
    }
    const format = last(p, '-f', '--format');
    const stdout = format ? found.map((o) => renderTemplate(format, o) + '\n').join('') : JSON.stringify(found, null, 4) + '\n';
    if (missing.length === 0) return ok(stdout);
    const what = type === 'image' ? 'image' : type === 'container' ? 'container' : 'object';
    return { stdout, stderr: missing.map((m) => `Error: No such ${what}: ${m}\n`).join(''), code: 1 };
  }

  private rmi(rest: string[]): EngineReply {
    const p = parseArgs(rest, []);
    const force = has(p, '-f', '--force');
    const out: string[] = [];
    const errors: string[] = [];
    for (const ref of p.positional) {
      const image = this.findImage(ref);
      if (!image) {
        if (!force) errors.push(`Error response from daemon: No such image: ${ref}`);
        continue;
      }
      const user = [...this.containers.values()].find((c) => c.rec.imageId === image.id);
      if (user && !force) {
        errors.push(`Error response from daemon: conflict: unable to remove repository reference "${ref}" (must force) - container ${user.rec.id.slice(0, 12)} is using its referenced image ${image.id.slice(7, 19)}`);
        continue;
      }
      const tag = normalizeRef(ref);
      if (image.tags.includes(tag) && image.tags.length > 1) {
        image.tags = image.tags.filter((t) => t !== tag);
        out.push(`Untagged: ${tag}`);
      } else {
        this.images = this.images.filter((i) => i !== image);
        if (!user) rmSync(image.dir, { recursive: true, force: true });
        out.push(...image.tags.map((t) => `Untagged: ${t}`), `Deleted: ${image.id}`);
      }
    }
    this.save();
    return { stdout: out.map((l) => `${l}\n`).join(''), stderr: errors.map((l) => `${l}\n`).join(''), code: errors.length ? 1 : 0 };
  }

  /** Special images (e.g. apache/kafka) "pull" from nowhere; anything else has no registry here. */
  private pull(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['--platform']);
    const ref = p.positional[0];
    if (!ref) return err(`"docker pull" requires exactly 1 argument.`);
    const image = this.ensureSpecialImage(ref);
    if (!image) return err(`Error response from daemon: pull access denied for ${ref.split(':')[0]}: the emulated engine of VM ${this.opts.vm} has no registry; build the image on the VM instead`);
    return ok(`${normalizeRef(ref).split(':').pop()}: Pulling from ${ref.split(':')[0]}\nStatus: Image is up to date for ${normalizeRef(ref)}\n`);
  }

  private ensureSpecialImage(ref: string): ImageRecord | undefined {
    const found = this.findImage(ref);
    if (found) return found;
    const special = specialBaseOf(ref, Object.keys(this.opts.specials));
    if (!special) return undefined;
    const hex = Buffer.from(normalizeRef(ref)).toString('hex').padEnd(64, '0').slice(0, 64);
    const image: ImageRecord = { id: `sha256:${hex}`, tags: [normalizeRef(ref)], created: Date.now(), from: ref, workdir: '/', expose: [], env: {}, dir: this.opts.stateDir, size: 0, special };
    this.images.push(image);
    this.save();
    return image;
  }

  private parsePorts(specs: string[]): PortBinding[] {
    return specs.map((spec) => {
      const parts = spec.replace(/\/(tcp|udp)$/, '').split(':');
      if (parts.length < 2 || parts.length > 3 || !parts.slice(-2).every((x) => /^\d+$/.test(x))) {
        throw new UsageError(`invalid argument "${spec}" for "-p, --publish" flag: the emulated engine needs [IP:]HOST_PORT:CONTAINER_PORT`);
      }
      const [hostPort, containerPort] = parts.slice(-2).map(Number);
      return { hostIp: parts.length === 3 ? parts[0] : '0.0.0.0', hostPort, containerPort };
    });
  }

  private parseRestart(text: string | undefined): { name: RestartPolicyName; max: number } {
    if (!text) return { name: 'no', max: 0 };
    const [name, max] = text.split(':');
    if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name) || (max !== undefined && (name !== 'on-failure' || !/^\d+$/.test(max)))) {
      throw new UsageError(`invalid restart policy format: ${text}`);
    }
    return { name: name as RestartPolicyName, max: max ? Number(max) : 0 };
  }

  private async run(rest: string[], cwd: string, start: boolean): Promise<EngineReply> {
    const p = parseArgs(rest, RUN_VALUE_FLAGS, true);
    const [ref, ...override] = p.positional;
    if (!ref) return err(`"docker ${start ? 'run' : 'create'}" requires at least 1 argument.`, 125);
    const restart = this.parseRestart(last(p, '--restart'));
    if (has(p, '--rm') && restart.name !== 'no') return err('docker: Conflicting options: --restart and --rm.', 125);
    const ports = this.parsePorts(all(p, '-p', '--publish'));
    const env: Record<string, string> = {};
    for (const file of all(p, '--env-file')) {
      for (const line of readFileSync(resolve(cwd, file), 'utf8').split('\n')) {
        const t = line.trim();
        if (t && !t.startsWith('#') && t.includes('=')) env[t.slice(0, t.indexOf('='))] = t.slice(t.indexOf('=') + 1);
      }
    }
    for (const kv of all(p, '-e', '--env')) {
      const at = kv.indexOf('=');
      if (at > 0) env[kv.slice(0, at)] = kv.slice(at + 1);
    }
    const name = last(p, '--name') ?? `emulated_${randomBytes(3).toString('hex')}`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) return err(`docker: Error response from daemon: Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed.`, 125);

    const image = this.ensureSpecialImage(ref);
    if (!image) {
      return err(
        `Unable to find image '${normalizeRef(ref)}' locally\ndocker: Error response from daemon: pull access denied for ${ref.split(':')[0]}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied.\nSee 'docker run --help'.`,
        125,
      );
    }
    const taken = this.containers.get(name);
    if (taken) {
      return err(
        `docker: Error response from daemon: Conflict. The container name "/${name}" is already in use by container "${taken.rec.id}". You have to remove (or rename) that container to be able to reuse that name.\nSee 'docker run --help'.`,
        125,
      );
    }
    const entrypoint = last(p, '--entrypoint');
    if (ports.length === 0 && image.expose.length && env.PORT === undefined) env.PORT = String(image.expose[0]);
    const rec: ContainerRecord = {
      id: randomBytes(32).toString('hex'),
      name,
      image: ref,
      imageId: image.id,
      created: Date.now(),
      cmd: image.special ? [] : effectiveCommand(entrypoint ? [entrypoint] : image.entrypoint, image.cmd, override),
      cwd: image.dir,
      env: { ...image.env, ...env },
      ports,
      restart,
      special: image.special,
      state: { status: 'created', exitCode: 0, startedAt: 0, finishedAt: 0, restartCount: 0, manuallyStopped: false, runningAtPowerOff: false, pid: 0 },
    };
    if (!image.special && rec.cmd.length === 0) return err('docker: Error response from daemon: no command specified.', 125);
    const container = this.wrap(rec);
    this.containers.set(name, container); // synchronously: a concurrent run of the same name conflicts
    this.save();
    this.opts.record({ kind: 'run', by: 'cli', container: name, image: ref, detail: start ? undefined : 'create' });
    if (!start) return ok(`${rec.id}\n`);

    const clash = [...this.containers.values()].find(
      (c) => c !== container && (c.running || c.status === 'restarting') && c.rec.ports.some((q) => ports.some((b) => b.hostPort === q.hostPort)),
    );
    if (clash) {
      const port = ports.find((b) => clash.rec.ports.some((q) => q.hostPort === b.hostPort))!.hostPort;
      return err(`docker: Error response from daemon: driver failed programming external connectivity on endpoint ${name} (${rec.id.slice(0, 12)}): Bind for ${this.opts.ip()}:${port} failed: port is already allocated (container ${clash.rec.name}).`, 125);
    }
    try {
      await container.start();
    } catch (e) {
      if (e instanceof StartError) return err(`docker: Error response from daemon: ${e.message}.`, e.code);
      throw e;
    }
    if (has(p, '-d', '--detach')) return ok(`${rec.id}\n`);
    // Foreground run: wait for the process to end and hand back its output.
    while (container.running) await new Promise((r) => setTimeout(r, 20));
    const logs = container.readLogs();
    const reply = {
      stdout: logs.filter((l) => l.stream === 'stdout').map((l) => l.text).join(''),
      stderr: logs.filter((l) => l.stream === 'stderr').map((l) => l.text).join(''),
      code: rec.state.exitCode,
    };
    if (has(p, '--rm')) {
      this.containers.delete(name);
      this.save();
    }
    return reply;
  }

  private ps(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['--filter', '-f', '--format', '-n', '--last']);
    const filters = all(p, '--filter', '-f').map((f) => {
      const at = f.indexOf('=');
      return { key: f.slice(0, at), value: f.slice(at + 1) };
    });
    const byKey = new Map<string, string[]>();
    for (const f of filters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.value]);
    const match = (c: Container): boolean => {
      for (const [key, values] of byKey) {
        const hit = values.some((v) => {
          switch (key) {
            case 'name':
              try {
                const re = new RegExp(v);
                return re.test(c.rec.name) || re.test(`/${c.rec.name}`);
              } catch {
                return c.rec.name.includes(v);
              }
            case 'status':
              return c.status === v;
            case 'id':
              return c.rec.id.startsWith(v);
            case 'ancestor':
              return normalizeRef(c.rec.image) === normalizeRef(v) || c.rec.imageId.includes(v);
            default:
              return true;
          }
        });
        if (!hit) return false;
      }
      return true;
    };
    const showAll = has(p, '-a', '--all') || byKey.has('status');
    const list = [...this.containers.values()]
      .filter((c) => (showAll || c.running || c.status === 'restarting') && match(c))
      .sort((a, b) => b.rec.created - a.rec.created);
    const ip = this.opts.ip();
    const now = Date.now();
    const rows = list.map((c) => ({
      ID: c.rec.id.slice(0, 12),
      Names: c.rec.name,
      Image: c.rec.image,
      Command: commandText(c.rec.special ? ['(in-process)'] : c.rec.cmd),
      CreatedAt: new Date(c.rec.created).toISOString(),
      RunningFor: `${humanDuration(now - c.rec.created)} ago`,
      Status: statusText(c.rec, now),
      State: c.status,
      Ports: portsText(c.rec, ip),
      Networks: 'bridge',
      Labels: '',
      Mounts: '',
      Size: '0B',
    }));
    if (has(p, '-q', '--quiet')) return ok(rows.map((r) => `${r.ID}\n`).join(''));
    const format = last(p, '--format');
    if (format) return ok(this.formatRows(format, rows, { ID: 'CONTAINER ID', RunningFor: 'CREATED' }));
    return ok(table(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
      rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names]),
    ));
  }

  /** start/stop/restart: each named container; docker prints the names it acted on. */
  private async each(rest: string[], valueFlags: string[], fn: (c: Container, p: ParsedArgs) => Promise<void>): Promise<EngineReply> {
    const p = parseArgs(rest, valueFlags);
    if (p.positional.length === 0) return err('requires at least 1 argument.');
    const out: string[] = [];
    const errors: string[] = [];
    for (const name of p.positional) {
      const c = this.find(name);
      if (!c) {
        errors.push(`Error response from daemon: No such container: ${name}`);
        continue;
      }
      try {
        await fn(c, p);
        out.push(name);
      } catch (e) {
        errors.push(`Error response from daemon: ${(e as Error).message}`);
      }
    }
    return { stdout: out.map((l) => `${l}\n`).join(''), stderr: errors.map((l) => `${l}\n`).join(''), code: errors.length ? 1 : 0 };
  }

  private async rm(rest: string[]): Promise<EngineReply> {
    const p = parseArgs(rest, []);
    const force = has(p, '-f', '--force');
    const out: string[] = [];
    const errors: string[] = [];
    for (const name of p.positional) {
      const c = this.find(name);
      if (!c) {
        if (!force) errors.push(`Error response from daemon: No such container: ${name}`);
        continue;
      }
      if ((c.running || c.status === 'restarting') && !force) {
        errors.push(`Error response from daemon: cannot remove container "/${c.rec.name}": container is running: stop the container before removing or force remove`);
        continue;
      }
      await c.halt(0, 'cli');
      this.containers.delete(c.rec.name);
      this.opts.record({ kind: 'rm', by: 'cli', container: c.rec.name, image: c.rec.image });
      out.push(name);
    }
    this.save();
    return { stdout: out.map((l) => `${l}\n`).join(''), stderr: errors.map((l) => `${l}\n`).join(''), code: errors.length ? 1 : 0 };
  }

  private logs(rest: string[]): EngineReply {
    const p = parseArgs(rest, ['--tail', '-n', '--since', '--until']);
    const name = p.positional[0];
    const c = name ? this.find(name) : undefined;
    if (!c) return err(`Error response from daemon: No such container: ${name ?? ''}`);
    const lines: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    for (const entry of c.readLogs()) {
      for (const piece of entry.text.split(/(?<=\n)/)) {
        const prev = lines[lines.length - 1];
        if (prev && prev.stream === entry.stream && !prev.text.endsWith('\n')) prev.text += piece;
        else lines.push({ stream: entry.stream, text: piece });
      }
    }
    const tail = last(p, '--tail', '-n');
    const shown = tail && tail !== 'all' ? lines.slice(Math.max(0, lines.length - Number(tail))) : lines;
    return {
      stdout: shown.filter((l) => l.stream === 'stdout').map((l) => l.text).join(''),
      stderr: shown.filter((l) => l.stream === 'stderr').map((l) => l.text).join(''),
      code: 0,
    };
  }
}
