/**
 * The SSH and Docker-host adapters against real local VMs (OpenSSH, Docker engines) and the File
 * Share emulator: pinning, retries, Docker install, image builds from SAS URLs, containers, health.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeShare, fetchScript } from '../../../functions/cloud/code-share.js';
import { DockerHost, imageName } from '../../../functions/cloud/docker-host.js';
import { HostKeyMismatchError, SshCommandError, SshHost, SshPool, type HostKeyPins } from '../../../functions/cloud/ssh.js';
import { startFileShareEmulator, type FileShareEmulator } from '../../../local/azure/files/index.js';
import { generateLocalTls } from '../../../local/azure/tls.js';
import { ADMIN, harness, type Harness } from '../vm/helpers.js';
import { hang } from '../../helpers/hang-guard.js';

const EXAMPLE = new URL('../../../examples/iot-platform/services/', import.meta.url).pathname;

/** Pins kept in memory: the contract the central database fulfils in the LCM. */
function memoryPins(): HostKeyPins & { pins: Map<string, string> } {
  const pins = new Map<string, string>();
  return {
    pins,
    getHostKey: async (vm) => pins.get(vm),
    pinHostKey: async (vm, fp) => void pins.set(vm, pins.get(vm) ?? fp),
  };
}

let h: Harness;
let files: FileShareEmulator;
let share: CodeShare;
let tmp: string;
let ip: string;
const pins = memoryPins();
const hosts: SshHost[] = [];

function host(vm = 'vm-a', p: HostKeyPins = pins): SshHost {
  const s = new SshHost({ vm, host: h.fleet.get(vm)!.ip, port: h.sshPort, username: ADMIN, privateKey: h.privateKey }, { pins: p, retryDelayInMs: 50 });
  hosts.push(s);
  return s;
}

beforeAll(async () => {
  h = await harness();
  ip = await h.powerOn('vm-a');
  tmp = mkdtempSync(join(tmpdir(), 'lcm-adapters-'));
  // HTTPS only, as the real account: the VM's curl trusts the local CA through the fetch script.
  const tls = generateLocalTls({ ips: [h.fleet.hostAddress] });
  files = await startFileShareEmulator({ rootDir: join(tmp, 'files'), accountName: 'lcmtest', host: h.fleet.hostAddress, tls });
  share = CodeShare.fromConnectionString(files.connectionString, 'code', { caCert: tls.cert });
  await share.ensureShare();
  await share.uploadDirectory(join(EXAMPLE, 'authentication'), 'authentication');
  // A service whose build fails: a RUN step exits non-zero (real Docker runs it).
  const broken = join(tmp, 'broken');
  cpSync(join(EXAMPLE, 'authentication'), broken, { recursive: true });
  writeFileSync(join(broken, 'Dockerfile'), readFileSync(join(broken, 'Dockerfile'), 'utf8').replace(/^CMD/m, 'RUN echo "no such tool: make" >&2 && exit 2\nCMD'));
  await share.uploadDirectory(broken, 'broken');
}, hang(60_000));

afterAll(async () => {
  for (const s of hosts) s.dispose();
  await files?.stop();
  await h?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

async function build(docker: DockerHost, source: string): Promise<string> {
  const version = await share.codeVersion(source);
  const image = imageName(source, version);
  const dir = `.lcm/src/${source}/${version}`;
  await docker.buildImage(image, dir, fetchScript(await share.readOnlySasUrls(source, { expiresInMs: 60_000 }), dir, { caCert: share.caCert }));
  return image;
}

describe('SSH host', () => {
  it('pins the host key on first contact and checks exit codes', async () => {
    const ssh = host();
    expect((await ssh.run('echo hello')).stdout.trim()).toBe('hello');
    expect(pins.pins.get('vm-a')).toBe(h.fleet.get('vm-a')!.hostKeyFingerprint);
    // The error names the VM, the step and the exit code; the output stays off its message (and
    // out of any serialization), on a non-enumerable property for in-process callers.
    const failed = (await ssh.run('echo boom >&2; exit 3', { step: 'a failing step' }).then(
      () => undefined,
      (e: unknown) => e,
    )) as SshCommandError;
    expect(failed).toBeInstanceOf(SshCommandError);
    expect(failed.message).toBe('VM "vm-a": a failing step failed (exit 3)');
    expect(failed.output).toMatch(/boom/);
    expect(JSON.stringify(failed)).not.toContain('boom');
    expect(Object.keys(failed)).not.toContain('output');
    const allowed = await ssh.run('exit 4', { allowFailure: true });
    expect(allowed.code).toBe(4);
    const err = await ssh.run('exit 5').catch((e) => e);
    expect(err).toBeInstanceOf(SshCommandError);
  });

  it('refuses a VM whose host key differs from the pinned one, and says so', async () => {
    const wrong = memoryPins();
    wrong.pins.set('vm-a', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const err = await host('vm-a', wrong).run('echo never').catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toMatch(/host key mismatch: pinned SHA256:AAAA.*presented SHA256:/);
  });

  it('retries a command whose connection drops mid-way', async () => {
    const ssh = host();
    await ssh.run('true');
    const marker = `.attempts-${Date.now()}`;
    const running = ssh.run(`echo x >> ${marker}; sleep 1; echo done`, { step: 'slow step' });
    setTimeout(() => void h.fleet.dropSshConnections('vm-a'), 300);
    expect((await running).stdout.trim()).toBe('done');
    // The first attempt was cut off: the command ran twice.
    expect((await ssh.run(`wc -l < ${marker}`)).stdout.trim()).toBe('2');
  });

  it('times out a command that hangs', async () => {
    await expect(host().run('sleep 5', { timeoutInMs: 300, step: 'hang' })).rejects.toThrow(/hang timed out after 300 ms/);
  });
});

describe('SSH connection pool', () => {
  const pooled = (pool: SshPool, p: HostKeyPins = pins): SshHost =>
    new SshHost({ vm: 'vm-a', host: h.fleet.get('vm-a')!.ip, port: h.sshPort, username: ADMIN, privateKey: h.privateKey }, { pins: p, retryDelayInMs: 50, pool });
  /** TCP connections the VM's sshd holds, counted on the VM itself. */
  const sshdConnections = async (ssh: SshHost): Promise<number> =>
    Number((await ssh.run(`ss -Htn state established '( sport = :${h.sshPort} )' | wc -l`)).stdout.trim());

  it('reuses one connection across activities, one after another and at once, and closes it when idle', async () => {
    const pool = new SshPool({ idleMs: 300 });
    // Connections other than the pool's (the counting one included, closed right after).
    const counting = host();
    const others = (await sshdConnections(counting)) - 1;
    counting.dispose();
    // Five "activities" one after another, then eight at once (two connections: at most four share one).
    for (let i = 0; i < 5; i++) {
      const ssh = pooled(pool);
      expect((await ssh.run(`echo ${i}`)).stdout.trim()).toBe(String(i));
      ssh.dispose();
    }
    expect(pool.handshakes).toBe(1);
    const many = Array.from({ length: 8 }, () => pooled(pool));
    await Promise.all(many.map((s, i) => s.run(`sleep 0.2; echo ${i}`)));
    expect(pool.handshakes).toBe(2);
    for (const s of many) s.dispose();
    // Given back, they stay open: the next activity takes one of them.
    const counter = pooled(pool);
    expect(await sshdConnections(counter)).toBe(others + 2);
    expect(pool.handshakes).toBe(2);
    counter.dispose();
    // Idle: the pool closes them, and the VM sees them go.
    await new Promise((r) => setTimeout(r, 600));
    expect(pool.size).toBe(0);
    const probe = host();
    expect(await sshdConnections(probe)).toBe(others + 1);
    probe.dispose();
  });

  it('reconnects when the pooled connection died, and never shares a connection across host-key pins', async () => {
    const pool = new SshPool({ idleMs: 5_000 });
    const first = pooled(pool);
    await first.run('true');
    first.dispose();
    expect(pool.handshakes).toBe(1);
    await h.fleet.dropSshConnections('vm-a');
    const next = pooled(pool);
    expect((await next.run('echo again')).stdout.trim()).toBe('again');
    expect(pool.handshakes).toBe(2);
    next.dispose();
    // Another pin for the same VM (a reset host key): a handshake of its own, which the wrong pin fails.
    const wrong = memoryPins();
    wrong.pins.set('vm-a', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await expect(pooled(pool, wrong).run('echo never')).rejects.toBeInstanceOf(HostKeyMismatchError);
    expect(pool.handshakes).toBe(3);
    pool.closeAll();
  });
});

describe('Docker host', () => {
  it('installs Docker when absent and does nothing the second time', async () => {
    const docker = new DockerHost(host());
    expect(await docker.ensureDocker()).toEqual({ installed: true });
    expect(await docker.ensureDocker()).toEqual({ installed: false });
    expect(h.fleet.counts('vm-a').install).toBe(1);
  });

  it('builds an image from the share through SAS URLs, runs it, and a second ensure changes nothing', async () => {
    const docker = new DockerHost(host());
    const image = await build(docker, 'authentication');
    // What startBuilds asks first: which of the images the VM has, in one look.
    expect([...(await docker.presentImages([image, 'lcm/authentication:absent', image]))]).toEqual([image]);
    const spec = { name: 'authentication', image, port: 8001, env: { MODE: 'test' }, secretEnv: { TOKEN_SIGNING_KEY: 's3cret' } };
    expect((await docker.ensureContainer(spec)).action).toBe('created');
    const check = { address: ip, port: 8001, path: '/health', timeoutInMs: 1000 };
    expect(await docker.waitHealthy(check, { startupTimeoutInMs: 10_000, intervalInMs: 100 })).toBe(true);
    expect((await fetch(`http://${ip}:8001/health`)).status).toBe(200);
    const before = h.fleet.counts('vm-a');
    // What a re-boot adopts: the container as ensureContainer would leave it, answering its probe;
    // other labels, another image, no container or no answer: no. All in one SSH command.
    const ssh = host();
    const run = ssh.run.bind(ssh);
    let commands = 0;
    ssh.run = (...args: Parameters<typeof run>) => (commands++, run(...args));
    const looked = await new DockerHost(ssh).runningHealthy([
      { spec, health: check },
      { spec: { ...spec, labels: { 'lcm.version': 'v1' } }, health: check },
      { spec: { ...spec, image: 'lcm/authentication:other' }, health: check },
      { spec: { ...spec, name: 'no-such-container' }, health: check },
      { spec, health: { ...check, path: '/no-such-path' } },
    ]);
    expect(looked[0]).toMatchObject({ running: true, image });
    expect(looked.slice(1)).toEqual([undefined, undefined, undefined, undefined]);
    expect(commands).toBe(1);
    expect((await docker.ensureContainer(spec)).action).toBe('none');
    const after = h.fleet.counts('vm-a');
    expect([after.build, after.run, after.restart, after.start]).toEqual([before.build, before.run, before.restart, before.start]);
    // The secret went through a file only the admin user reads, not the command line.
    const envFile = await host().run('stat -c %a .lcm/env/authentication.env');
    expect(envFile.stdout.trim()).toBe('600');
  });

  it('replaces the container when the image changes, and restarts it on request', async () => {
    const docker = new DockerHost(host());
    // A second image of the same code under another tag: what a new code version looks like.
    const context = (await host().run('ls -d .lcm/src/authentication/*')).stdout.trim();
    await host().run(`sudo docker build -t lcm/authentication:next ${context}`);
    const replaced = await docker.ensureContainer({ name: 'authentication', image: 'lcm/authentication:next', port: 8001, env: {} });
    expect(replaced.action).toBe('replaced');
    expect(replaced.image).toBe('lcm/authentication:next');
    const restarted = await docker.restartContainer('authentication');
    expect(restarted.running).toBe(true);
    expect(await docker.waitHealthy({ address: ip, port: 8001, path: '/health', timeoutInMs: 1000 }, { startupTimeoutInMs: 10_000, intervalInMs: 100 })).toBe(true);
  });

  it('reports a failed build with where its log is, and keeps the log on the VM to read on demand', async () => {
    const docker = new DockerHost(host());
    const err = await build(docker, 'broken').catch((e) => e);
    expect(err).toBeInstanceOf(SshCommandError);
    expect(err.message).toMatch(/^VM "vm-a": docker build of lcm\/broken:[0-9a-f]+ failed \(exit \d+\); its log is ~\/\.lcm\/logs\/build-lcm_broken_[0-9a-f]+\.log on the VM$/);
    expect(err.message).not.toMatch(/no such tool/);
    const log = await docker.latestBuildLog('broken', 20);
    expect(log).toMatch(/no such tool: make/);
    expect(log).toMatch(/returned a non-zero code: 2/);
  });

  /** The fetch script of a source, as startBuilds makes it. */
  const fetchOf = async (source: string, dir: string) => fetchScript(await share.readOnlySasUrls(source, { expiresInMs: 60_000 }), dir, { caCert: share.caCert });
  /** Polls (as the boot does between its timers) until the build is no longer running. */
  const settle = async (docker: DockerHost, image: string) => {
    for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
      const s = (await docker.pollBuilds([image])).get(image)!;
      if (s.state !== 'running') return s;
    }
    throw new Error(`the build of ${image} still runs after 120 s`);
  };

  it('starts a build detached and returns at once; a rerun finds it running or built and never starts a second', async () => {
    const docker = new DockerHost(host());
    const version = await share.codeVersion('authentication');
    const image = imageName('detached', version);
    const dir = `.lcm/src/detached/${version}`;
    const before = h.fleet.counts('vm-a').build;
    expect(await docker.startBuild(image, dir, await fetchOf('authentication', dir), { run: 'boot:r1' })).toEqual({ state: 'started' });
    // The activity run again (at-least-once), twice at the same time: the marker answers, no build starts.
    const again = await Promise.all([1, 2].map(async () => docker.startBuild(image, dir, await fetchOf('authentication', dir), { run: 'boot:r1' })));
    for (const a of again) expect(['running', 'built']).toContain(a.state);
    expect(await settle(docker, image)).toEqual({ state: 'built' });
    expect([...(await docker.presentImages([image]))]).toEqual([image]);
    expect(await docker.startBuild(image, dir, await fetchOf('authentication', dir), { run: 'boot:r2' })).toEqual({ state: 'built' });
    // One image tag on the VM's Docker engine: one build ran.
    expect(h.fleet.counts('vm-a').build - before).toBe(1);
    // The fetch script (SAS URLs) did not stay on the VM.
    expect((await host().run(`ls .lcm/builds/${image.replace(/[^A-Za-z0-9.-]/g, '_')}/`)).stdout.split('\n')).not.toContain('fetch.sh');
    // The marker names the folder the code was fetched into: the sweep removes it with the marker.
    expect((await host().run(`cat .lcm/builds/${image.replace(/[^A-Za-z0-9.-]/g, '_')}/ctx`)).stdout.trim()).toBe(dir);
  }, hang(150_000));

  it('a failed detached build is reported to its run with its log; only a later run starts it again', async () => {
    const docker = new DockerHost(host());
    const version = await share.codeVersion('broken');
    const image = imageName('broken-detached', version);
    const dir = `.lcm/src/broken-detached/${version}`;
    const marker = `.lcm/builds/${image.replace(/[^A-Za-z0-9.-]/g, '_')}`;
    expect(await docker.startBuild(image, dir, await fetchOf('broken', dir), { run: 'boot:r1' })).toEqual({ state: 'started' });
    const failed = await settle(docker, image);
    expect(failed.state).toBe('failed');
    expect((failed as { reason: string }).reason).toBe(`the fetch and build of ${image} exited 2; its log is ~/.lcm/logs/build-${image.replace(/[^A-Za-z0-9.-]/g, '_')}.log on the VM`);
    expect(await docker.buildLog(image, 20)).toMatch(/no such tool: make/);
    const pid = (await host().run(`cat ${marker}/pid`)).stdout.trim();
    // The same run asking again gets the same failure, and nothing is started.
    expect(await docker.startBuild(image, dir, await fetchOf('broken', dir), { run: 'boot:r1' })).toEqual(failed);
    expect((await host().run(`cat ${marker}/pid`)).stdout.trim()).toBe(pid);
    // Another boot tries again.
    expect(await docker.startBuild(image, dir, await fetchOf('broken', dir), { run: 'boot:r2' })).toEqual({ state: 'started' });
    expect((await host().run(`cat ${marker}/pid`)).stdout.trim()).not.toBe(pid);
    expect((await settle(docker, image)).state).toBe('failed');
  }, hang(150_000));

  /** A process of the VM's own that lives on unrelated to any build (what a reused pid points at). */
  const unrelated = async () => (await host().run('nohup setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!')).stdout.trim();
  /** Ends every process of a session started here (a detached build is a session of its own). */
  const endSession = async (sid: string) => void (await host().run(`ps -o pid= -s ${Number(sid)} | xargs -r kill 2>/dev/null; true`));
  const BOOT_ID = '/proc/sys/kernel/random/boot_id';
  const OTHER_BOOT = '00000000-0000-4000-8000-000000000000';

  it('a marker written under another boot of the kernel is lost though its pid is alive, and starts again; a marker without a boot id is judged by its pid', async () => {
    const docker = new DockerHost(host());
    const ssh = host();
    const image = 'lcm/rebooted:v1';
    const marker = '.lcm/builds/lcm_rebooted_v1';
    // A fetch that takes its time: the build stays running while the test looks at its marker.
    expect(await docker.startBuild(image, '.lcm/src/rebooted/v1', 'sleep 300', { run: 'boot:r1' })).toEqual({ state: 'started' });
    expect((await docker.pollBuilds([image])).get(image)).toEqual({ state: 'running' });
    const boot = (await ssh.run(`cat ${BOOT_ID}`)).stdout.trim();
    expect(boot).toMatch(/^[0-9a-f-]{36}$/);
    expect((await ssh.run(`cat ${marker}/boot`)).stdout.trim()).toBe(boot);
    // The reboot: the build is gone, its pid now belongs to another live process, the boot id changed.
    await endSession((await ssh.run(`cat ${marker}/pid`)).stdout);
    const other = await unrelated();
    try {
      await ssh.run(`echo ${other} > ${marker}/pid && echo ${OTHER_BOOT} > ${marker}/boot`);
      expect((await ssh.run(`kill -0 ${other} && echo alive`)).stdout.trim()).toBe('alive');
      expect((await docker.pollBuilds([image])).get(image)).toEqual({
        state: 'failed',
        reason: `the build of ${image} stopped without an outcome (the VM restarted?); its log is ~/.lcm/logs/build-lcm_rebooted_v1.log on the VM`,
      });
      // A marker of the code before boot ids (none recorded): the live pid alone says running.
      await ssh.run(`rm ${marker}/boot`);
      expect((await docker.pollBuilds([image])).get(image)).toEqual({ state: 'running' });
      expect(await docker.startBuild(image, '.lcm/src/rebooted/v1', 'sleep 300', { run: 'boot:r1' })).toEqual({ state: 'running' });
      // Back to the other boot's marker: the same run starts the build again, under this boot.
      await ssh.run(`echo ${OTHER_BOOT} > ${marker}/boot`);
      expect(await docker.startBuild(image, '.lcm/src/rebooted/v1', 'sleep 300', { run: 'boot:r1' })).toEqual({ state: 'started' });
      const pid = (await ssh.run(`cat ${marker}/pid`)).stdout.trim();
      expect(pid).not.toBe(other);
      expect((await ssh.run(`cat ${marker}/boot`)).stdout.trim()).toBe(boot);
      expect((await docker.pollBuilds([image])).get(image)).toEqual({ state: 'running' });
      await endSession(pid);
    } finally {
      await endSession(other);
    }
  }, hang(60_000));

  it('removes the markers of builds over for a day with their fetched sources, never a running one, a recent one or a link, and build logs after a week; skips while a starter is at work', async () => {
    const docker = new DockerHost(host());
    const ssh = host();
    const live = await unrelated();
    const gone = (await ssh.run('sh -c "echo \\$\\$"')).stdout.trim();
    const boot = (await ssh.run(`cat ${BOOT_ID}`)).stdout.trim();
    const B = '.lcm/builds';
    const markers: Record<string, string> = {
      'lcm_old-built_v1': 'echo 0 > exit && echo .lcm/src/old-built/v1 > ctx',
      // A context outside the sources is never followed.
      'lcm_old-failed_v1': 'echo 2 > exit && echo /tmp/lcm-not-a-marker > ctx',
      'lcm_old-dead_v1': `echo ${gone} > pid && echo ${boot} > boot`,
      'lcm_old-rebooted_v1': `echo ${live} > pid && echo ${OTHER_BOOT} > boot`,
      'lcm_old-running_v1': `echo ${live} > pid && echo ${boot} > boot && echo .lcm/src/old-running/v1 > ctx`,
      'lcm_old-running-no-boot-id_v1': `echo ${live} > pid`,
      'lcm_new-built_v1': 'echo 0 > exit && echo .lcm/src/new-built/v1 > ctx',
    };
    const sources = ['old-built', 'old-running', 'new-built'].map((step) => `.lcm/src/${step}/v1`);
    const L = '.lcm/logs';
    try {
      await ssh.run(
        [
          `mkdir -p ${B} /tmp/lcm-not-a-marker && touch /tmp/lcm-not-a-marker/keep`,
          ...Object.entries(markers).map(([k, files]) => `mkdir ${B}/${k} && (cd ${B}/${k} && ${files}) && touch ${B}/${k}.lock`),
          ...Object.keys(markers).filter((k) => k.startsWith('lcm_old')).map((k) => `touch -d '2 days ago' ${B}/${k}`),
          `ln -s /tmp/lcm-not-a-marker ${B}/lcm_old-link_v1 && touch -h -d '2 days ago' ${B}/lcm_old-link_v1`,
          ...sources.map((src) => `mkdir -p ${src} && touch ${src}/Dockerfile`),
          // Build logs: one untouched for more than a week, one for two days.
          `mkdir -p ${L} && touch -d '8 days ago' ${L}/build-lcm_old-built_v1.log && touch -d '2 days ago' ${L}/build-lcm_old-failed_v1.log`,
        ].join(' && '),
      );
      // A starter at work (it holds the builds lock shared): the sweep waits for another time.
      const holder = (await ssh.run(`nohup setsid flock -s ${B}.lock sleep 300 </dev/null >/dev/null 2>&1 & echo $!`)).stdout.trim();
      await ssh.run(`until ! flock -n -x ${B}.lock true; do sleep 0.05; done`);
      expect(await docker.pruneBuildMarkers()).toBe(0);
      await endSession(holder);
      expect(await docker.pruneBuildMarkers()).toBe(4);
      const left = (await ssh.run(`ls ${B}`)).stdout.split('\n').filter((n) => n.startsWith('lcm_old') || n.startsWith('lcm_new'));
      expect(left.sort()).toEqual(
        ['lcm_new-built_v1', 'lcm_new-built_v1.lock', 'lcm_old-link_v1', 'lcm_old-running-no-boot-id_v1', 'lcm_old-running-no-boot-id_v1.lock', 'lcm_old-running_v1', 'lcm_old-running_v1.lock'].sort(),
      );
      expect((await ssh.run('ls /tmp/lcm-not-a-marker')).stdout.trim()).toBe('keep');
      // The source a removed marker's build fetched goes with it; a running or recent build's stays.
      const present = async (path: string) => (await ssh.run(`test -e ${path}`, { allowFailure: true })).code === 0;
      expect(await Promise.all(sources.map(present))).toEqual([false, true, true]);
      // Build logs stay a week, then go.
      expect([await present(`${L}/build-lcm_old-built_v1.log`), await present(`${L}/build-lcm_old-failed_v1.log`)]).toEqual([false, true]);
      // Nothing more is over for a day: a second sweep removes nothing.
      expect(await docker.pruneBuildMarkers()).toBe(0);
    } finally {
      await endSession(live);
      await ssh.run(`rm -rf /tmp/lcm-not-a-marker ${B}/lcm_old-* ${B}/lcm_new-* ${sources.join(' ')} ${L}/build-lcm_old-*`);
    }
  }, hang(60_000));

  it('a health check from the VM fails for a port nothing listens on', async () => {
    const docker = new DockerHost(host());
    expect(await docker.isHealthy({ address: ip, port: 9999, path: '/health', timeoutInMs: 500 })).toBe(false);
  });
});
