/**
 * The real broker for the Kafka integration tests: a private Docker daemon (its own data root, exec
 * root, socket and pidfile, no bridge, so it touches neither the machine's Docker nor another test's),
 * the example's Kafka image built into it by local/images/kafka/build.sh, and the broker container run
 * with exactly the environment, ports and volume startKafka gives it. The container uses the host's
 * network, so "the VM's private address" and "the address the function app reaches" are two loopback
 * addresses on which its listeners are advertised. When any of this cannot be had the tests fail.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { kafkaContainerSpec } from '../../../functions/cloud/kafka-broker.js';
import { kafkaPorts, type KafkaPorts } from '../../../functions/platform/kafka-ports.js';
import { LoopbackPool } from '../../../local/azure/addresses.js';
import { buildKafkaImage, KAFKA_IMAGE } from '../../../local/images/kafka/index.js';

const exec = promisify(execFile);

export interface Dockerd {
  host: string;
  docker(args: string[], opts?: { allowFailure?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function startDockerd(): Promise<Dockerd> {
  // Short paths: containerd's sockets live under the exec root and unix socket paths are short.
  const dir = await mkdtemp('/tmp/lcmk-');
  const host = `unix://${dir}/docker.sock`;
  const child: ChildProcess = spawn(
    'dockerd',
    ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '--pidfile', join(dir, 'docker.pid'), '-H', host,
      '--bridge', 'none', '--iptables=false', '--ip-masq=false'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const docker: Dockerd['docker'] = async (args, opts = {}) => {
    try {
      const r = await exec('docker', ['-H', host, ...args], { maxBuffer: 16 * 1024 * 1024 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
      if (opts.allowFailure) return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      throw new Error(`docker ${args.join(' ')} failed: ${err.stderr || err.message}`);
    }
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(timer);
    }
    // dockerd leaves its network namespace bind-mounted under the exec root: unmount what is left there.
    const mounts = (await readFile('/proc/mounts', 'utf8').catch(() => '')).split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(`${dir}/`));
    for (const m of mounts.reverse()) await exec('umount', ['-l', m]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if ((await docker(['info', '--format', '{{.ServerVersion}}'], { allowFailure: true })).code === 0) return { host, docker, stop };
    await sleep(200);
  }
  await stop();
  throw new Error(`a private dockerd for the Kafka tests did not start (is docker.io installed and are we root?): ${log.slice(-1500)}`);
}

async function portsFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

/** A kafka.port whose three listener ports are all free on this machine. */
export async function freeKafkaPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (await portsFree(Object.values(kafkaPorts(port)))) return port;
  }
  throw new Error('no three consecutive free ports for a Kafka broker');
}

export interface RealBroker {
  dockerd: Dockerd;
  container: string;
  volume: string;
  /** The VM's private address (services) and the one the function app reaches (here both loopback). */
  privateIp: string;
  publicHost: string;
  port: number;
  ports: KafkaPorts;
  /** Where services bootstrap (INTERNAL) and where the function app does (EXTERNAL). */
  internal: string;
  external: string;
  /** `docker run` of the broker as startKafka does it (the same env and volume), when not running. */
  run(): Promise<void>;
  logs(): Promise<string>;
}

const pool = new LoopbackPool();

/** Builds the image into `dockerd` and describes a broker placed like startKafka places it (not started yet). */
export async function prepareBroker(dockerd: Dockerd, vm = 'vm-kafka'): Promise<RealBroker> {
  await buildKafkaImage([dockerd.host]);
  const privateIp = pool.allocate(`${vm}-private`);
  const publicHost = pool.allocate(`${vm}-public`);
  const port = await freeKafkaPort();
  const spec = kafkaContainerSpec({ image: KAFKA_IMAGE, vm, privateIp, publicHost, port });
  const suffix = Math.random().toString(36).slice(2, 8);
  const container = `kafka-${suffix}`;
  const volume = `kafka-data-${suffix}`;
  const ports = kafkaPorts(port);
  return {
    dockerd,
    container,
    volume,
    privateIp,
    publicHost,
    port,
    ports,
    internal: `${privateIp}:${ports.internal}`,
    external: `${publicHost}:${ports.external}`,
    async run() {
      const [, dataDir] = Object.entries(spec.volumes ?? {})[0];
      await dockerd.docker([
        'run', '-d', '--name', container, '--network', 'host', '--restart', spec.restart ?? 'unless-stopped',
        '-v', `${volume}:${dataDir}`,
        ...Object.entries(spec.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        spec.image,
      ]);
    },
    async logs() {
      const r = await dockerd.docker(['logs', '--tail', '40', container], { allowFailure: true });
      return r.stdout + r.stderr;
    },
  };
}
