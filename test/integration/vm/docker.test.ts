/**
 * A local VM's real Docker engine and real faults: `docker build` runs RUN steps, base images come
 * from the machine's registry (never from outside), restart policies and VM restarts are Docker's,
 * a partition is the VM's link going down, a power loss leaves no process, and a VM recreated
 * with a new host key is refused by the LCM's pinned SSH adapter.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaContainerSpec } from '../../../functions/cloud/kafka-broker.js';
import { HostKeyMismatchError, SshHost } from '../../../functions/cloud/ssh.js';
import { KAFKA_IMAGE, kafkaImage } from '../../../local/images/kafka/index.js';
import { alive } from '../../helpers/net.js';
import { ADMIN, harness, waitFor, type Harness } from './helpers.js';
import { hang } from '../../helpers/hang-guard.js';

let h: Harness;

async function sh(vm: string, cmd: string): Promise<string> {
  const ssh = await h.connect(vm);
  const r = await ssh.execCommand(cmd);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function text(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  h = await harness({ images: { 'apache/kafka': kafkaImage } });
  await h.powerOn('vm-d');
  await sh('vm-d', 'sudo -n apt-get install -y docker.io');
}, hang(120_000));
afterAll(async () => {
  await h?.cleanup();
});

describe('the VM\'s Docker engine', () => {
  it('builds a Dockerfile whose RUN step writes a file, from a base image of the machine\'s registry, and serves it', async () => {
    const dockerfile = [
      'FROM node:20-bookworm-slim',
      'RUN useradd -m app && echo "built by RUN on $(cat /etc/debian_version)" > /srv/built.txt',
      'USER app',
      'CMD ["node", "-e", "require(\'http\').createServer((q, s) => s.end(require(\'fs\').readFileSync(\'/srv/built.txt\'))).listen(3000)"]',
    ].join('\n');
    await sh('vm-d', `mkdir -p run-step && cat > run-step/Dockerfile <<'EOF'\n${dockerfile}\nEOF`);
    const build = await sh('vm-d', 'sudo -n docker build -t run-step:1 run-step 2>&1');
    expect(build).toMatch(/Pulling from library\/node|Pull complete|Downloaded newer image/);
    await sh('vm-d', 'sudo -n docker run -d --name web --restart unless-stopped -p 8080:3000 run-step:1');
    const vm = h.fleet.get('vm-d')!;
    const body = await waitFor('the container to serve', () => text(`http://${vm.privateIp}:8080/`));
    expect(body).toMatch(/^built by RUN on 12\.\d+/);
    expect(await text(`http://${vm.ip}:8080/`)).toBe(body);
    expect((await sh('vm-d', "sudo -n docker inspect -f '{{.Config.User}} {{.HostConfig.RestartPolicy.Name}}' web")).trim()).toBe('app unless-stopped');
    expect(h.fleet.counts('vm-d', { by: 'cli' })).toMatchObject({ install: 1, build: 1, run: 1 });
  }, hang(120_000));

  it('a killed container comes back by its restart policy; with the policy off it stays down', async () => {
    const vm = h.fleet.get('vm-d')!;
    await h.fleet.crashContainer('vm-d', 'web');
    await waitFor('the policy restart', () => h.fleet.counts('vm-d', { by: 'policy' }).restart === 1, 15_000);
    expect(await waitFor('web back', () => text(`http://${vm.privateIp}:8080/`))).toMatch(/built by RUN/);
    await h.fleet.crashContainer('vm-d', 'web', { stayDown: true });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await text(`http://${vm.privateIp}:8080/`)).toBeUndefined();
    expect((await sh('vm-d', "sudo -n docker inspect -f '{{.State.Status}}' web")).trim()).toBe('exited');
    await sh('vm-d', 'sudo -n docker update --restart unless-stopped web && sudo -n docker start web');
    expect(await waitFor('web started', () => text(`http://${vm.privateIp}:8080/`))).toMatch(/built by RUN/);
  }, hang(60_000));

  it('pulls apache/kafka:3.9.1 (Apache Kafka from Maven Central\'s jars) from the machine\'s registry and serves kafkajs on both listeners', async () => {
    const vm = h.fleet.get('vm-d')!;
    // As startKafka runs it: services get the private address, the function app the public one.
    const spec = kafkaContainerSpec({ image: KAFKA_IMAGE, vm: 'vm-d', privateIp: vm.privateIp, publicHost: vm.ip, port: 9092 });
    const env = Object.entries(spec.env).map(([k, v]) => `-e ${k}=${v}`).join(' ');
    await sh('vm-d', `sudo -n docker run -d --name kafka -p 9092:9092 -p 9094:9094 ${env} ${KAFKA_IMAGE}`);
    expect((await sh('vm-d', "sudo -n docker inspect -f '{{.Config.User}} {{.Config.WorkingDir}}' kafka")).trim()).toBe('appuser /opt/kafka');
    for (const [address, port] of [[vm.ip, 9094], [vm.privateIp, 9092]] as const) {
      const admin = new Kafka({ clientId: 'vm-test', brokers: [`${address}:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 40, maxRetryTime: 5_000 } }).admin(); // a JVM starting on a busy machine
      try {
        await admin.connect();
        expect((await admin.describeCluster()).brokers).toEqual([{ nodeId: 1, host: address, port }]);
      } finally {
        await admin.disconnect();
      }
    }
  }, hang(300_000));

  it('a VM restart brings sshd, dockerd and the containers with a restart policy back', async () => {
    const vm = h.fleet.get('vm-d')!;
    await h.fleet.powerOff('vm-d', 'restart');
    expect(await text(`http://${vm.privateIp}:8080/`)).toBeUndefined();
    await h.powerOn('vm-d');
    expect(await waitFor('web after the restart', () => text(`http://${vm.privateIp}:8080/`), 30_000)).toMatch(/built by RUN/);
    // The kafka container had no restart policy: it stays down, as Docker does it.
    expect((await sh('vm-d', "sudo -n docker ps -a --filter name=kafka --format '{{.Status}}'")).trim()).toMatch(/^Exited/);
    expect(h.fleet.events('vm-d').some((e) => e.by === 'boot' && e.container === 'web')).toBe(true);
  }, hang(60_000));

  it('a partition is the VM\'s link going down: nothing answers until it comes back', async () => {
    const vm = h.fleet.get('vm-d')!;
    await h.fleet.setLink('vm-d', false);
    expect(await text(`http://${vm.privateIp}:8080/`)).toBeUndefined();
    await expect(h.connect('vm-d')).rejects.toThrow(/Timed out|ETIMEDOUT|EHOSTUNREACH/);
    await h.fleet.setLink('vm-d', true);
    expect(await waitFor('web after the link is back', () => text(`http://${vm.privateIp}:8080/`))).toMatch(/built by RUN/);
  }, hang(60_000));

  it('a power loss leaves none of the VM\'s processes', async () => {
    const pids = await h.fleet.pids('vm-d');
    expect(pids.length).toBeGreaterThan(4); // init, sshd, dockerd, containerd, a shim, node
    await h.fleet.killVm('vm-d');
    await waitFor('every VM process gone', () => pids.every((p) => !alive(p)), 10_000);
    expect(await h.fleet.pids('vm-d')).toEqual([]);
  }, hang(30_000));

  it('a VM deleted and created again has a new host key, which the pinned SSH adapter refuses', async () => {
    await h.powerOn('vm-d');
    const pinned = h.fleet.get('vm-d')!.hostKeyFingerprint;
    await h.fleet.powerOff('vm-d', 'delete');
    await h.powerOn('vm-d');
    const vm = h.fleet.get('vm-d')!;
    expect(vm.hostKeyFingerprint).not.toBe(pinned);
    const ssh = new SshHost(
      { vm: 'vm-d', host: vm.ip, port: vm.sshPort, username: ADMIN, privateKey: h.privateKey },
      { pins: { getHostKey: async () => pinned, pinHostKey: async () => undefined }, retryDelayInMs: 50 },
    );
    try {
      const err = await ssh.run('echo never').catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect(err.message).toContain(vm.hostKeyFingerprint);
    } finally {
      ssh.dispose();
    }
  }, hang(60_000));
});
