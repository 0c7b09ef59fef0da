/**
 * More of the engine over SSH: special (in-process) images, on-failure policies, logs, restart,
 * state kept in the sandbox for a new fleet, VM deletion, and no leak of the host environment.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSSH } from 'node-ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpecialImage, SpecialImageContext } from '../../../local/azure/vm/index.js';
import { createVmFleet } from '../../../local/azure/vm/index.js';
import { ADMIN, harness, listening, waitFor, type Harness } from './helpers.js';
import { createServer, type Server } from 'node:net';

let h: Harness;
let ip: string;
const started: SpecialImageContext[] = [];
let stops = 0;

/** A stand-in broker: listens on the port it is given, like the in-process Kafka will. */
const broker: SpecialImage = {
  async start(ctx) {
    started.push(ctx);
    const server: Server = createServer((s) => {
      s.on('error', () => undefined);
      s.end('kafka\n');
    });
    await new Promise<void>((r) => server.listen(ctx.port, ctx.ip, () => r()));
    ctx.logs('broker up');
    return {
      stop: () => new Promise<void>((r) => {
        stops++;
        server.close(() => r());
      }),
    };
  },
};

async function sh(ssh: NodeSSH, command: string): Promise<string> {
  const r = await ssh.execCommand(command);
  if (r.code !== 0) throw new Error(`${command} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  h = await harness({ images: { 'apache/kafka': broker } });
  ip = await h.powerOn('vm-e');
  const ssh = await h.connect('vm-e');
  await sh(ssh, 'sudo apt-get install -y docker.io');
});
afterAll(async () => {
  await h?.cleanup();
});

describe('engine', () => {
  it('starts a special image in-process (no CMD needed) and stops it with the container', async () => {
    const ssh = await h.connect('vm-e');
    expect(await ssh.putDirectory(join(process.cwd(), 'examples/iot-platform/services/kafka'), 'services/kafka')).toBe(true);
    await sh(ssh, 'docker build -t kafka:v1 services/kafka');
    await sh(ssh, 'docker run -d --name kafka -p 9092:9092 --restart always -e KAFKA_NODE_ID=1 kafka:v1');
    expect(started.at(-1)).toMatchObject({ vm: 'vm-e', ip, port: 9092, env: { KAFKA_NODE_ID: '1', HOST: ip } });
    expect(await listening(ip, 9092)).toBe(true);
    expect(await sh(ssh, 'docker logs kafka')).toBe('broker up');
    await h.fleet.crashContainer('vm-e', 'kafka');
    await waitFor('broker back', () => started.length === 2 && listening(ip, 9092));
    await sh(ssh, 'docker stop kafka');
    expect(await listening(ip, 9092)).toBe(false);
    expect(stops).toBe(2);
  });

  it('on-failure restarts only after a non-zero exit and at most max times', async () => {
    const ssh = await h.connect('vm-e');
    await sh(ssh, `mkdir -p flaky && cd flaky && printf '%s\\n' 'FROM node:20-alpine' 'CMD ["/bin/sh","-c","echo run; exit $CODE"]' > Dockerfile`);
    await sh(ssh, 'docker build -t flaky flaky');
    await sh(ssh, 'docker run -d --name fails --restart on-failure:2 -e CODE=3 flaky');
    await waitFor('retries used up', async () => (await sh(ssh, "docker inspect -f '{{.State.Status}} {{.RestartCount}}' fails")) === 'exited 2');
    expect(await sh(ssh, "docker inspect -f '{{.State.ExitCode}}' fails")).toBe('3');
    expect(await sh(ssh, 'docker logs --tail 2 fails')).toBe('run\nrun');
    await sh(ssh, 'docker run -d --name done --restart on-failure -e CODE=0 flaky');
    await waitFor('exited', async () => (await sh(ssh, "docker inspect -f '{{.State.Status}}' done")) === 'exited');
    await new Promise((r) => setTimeout(r, 100));
    expect(await sh(ssh, "docker inspect -f '{{.RestartCount}}' done")).toBe('0');
    const rm = await ssh.execCommand('docker rm fails done && docker rm fails');
    expect(rm.code).toBe(1);
    expect(rm.stderr).toBe('Error response from daemon: No such container: fails');
  });

  it('restarts a container on request and lists it like docker ps', async () => {
    const ssh = await h.connect('vm-e');
    await sh(ssh, `mkdir -p svc && cd svc && printf '%s\\n' 'FROM node:20-alpine' 'EXPOSE 7070' 'CMD node -e "require(\\"http\\").createServer((q,s)=>s.end(\\"hi\\")).listen(process.env.PORT, process.env.HOST)"' > Dockerfile`);
    await sh(ssh, 'docker build -t svc:v1 svc');
    await sh(ssh, 'docker run -d --name svc -p 7070:7070 svc:v1');
    await waitFor('svc', () => listening(ip, 7070));
    const startedAt = await sh(ssh, "docker inspect -f '{{.State.StartedAt}}' svc");
    expect(await sh(ssh, 'docker restart svc')).toBe('svc');
    expect(await sh(ssh, "docker inspect -f '{{.State.StartedAt}}' svc")).not.toBe(startedAt);
    await waitFor('svc again', () => listening(ip, 7070));
    const table = (await sh(ssh, 'docker ps')).split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(table.find((l) => l.endsWith(' svc'))).toMatch(new RegExp(`Up .*${ip.replace(/\./g, '\\.')}:7070->7070/tcp`));
    const json = JSON.parse(await sh(ssh, 'docker inspect svc')) as { Name: string; State: { Running: boolean } }[];
    expect(json[0]).toMatchObject({ Name: '/svc', State: { Running: true } });
    expect(h.fleet.counts('vm-e', { by: 'cli' }).restart).toBe(1);
  });

  it('gives commands a clean environment: nothing of the host process leaks in', async () => {
    process.env.LCM_TEST_SECRET = 'do-not-leak';
    const ssh = await h.connect('vm-e');
    const env = await sh(ssh, 'env');
    expect(env).not.toContain('do-not-leak');
    expect(env).toContain(`HOME=${h.fleet.get('vm-e')!.home}`);
    expect(env).toMatch(new RegExp(`^PATH=${h.fleet.get('vm-e')!.sandbox}/bin:`, 'm'));
    delete process.env.LCM_TEST_SECRET;
  });

  it('keeps images and containers in the sandbox: a new fleet on the same dir boots them', async () => {
    await h.fleet.powerOff('vm-e', 'stop');
    const fleet2 = createVmFleet({ rootDir: h.rootDir, sshPort: h.sshPort, images: { 'apache/kafka': broker }, restartDelayMs: 20 });
    try {
      await fleet2.powerOn({ name: 'vm-e', ip, adminUser: ADMIN, publicKeys: [h.publicKey] });
      expect(fleet2.get('vm-e')!.hostKeyFingerprint).toBe(h.fleet.get('vm-e')!.hostKeyFingerprint);
      // As Docker: `always` comes back at boot even after a manual stop; svc had no policy.
      expect(fleet2.events('vm-e').filter((e) => e.by === 'boot').map((e) => e.container)).toEqual(['kafka']);
      expect(await listening(ip, 9092)).toBe(true);
      expect(await listening(ip, 7070)).toBe(false);
    } finally {
      await fleet2.stop();
    }
  });

  it("powerOff('delete') drops the sandbox, and a recreated VM gets a new host key", async () => {
    await h.powerOn('vm-del');
    const vm = h.fleet.get('vm-del')!;
    mkdirSync(join(vm.home, 'x'), { recursive: true });
    writeFileSync(join(vm.home, 'x', 'f'), 'x');
    await h.fleet.powerOff('vm-del', 'delete');
    expect(existsSync(vm.sandbox)).toBe(false);
    expect(h.fleet.get('vm-del')).toBeUndefined();
    await h.powerOn('vm-del');
    expect(h.fleet.get('vm-del')!.hostKeyFingerprint).not.toBe(vm.hostKeyFingerprint);
    const ssh = await h.connect('vm-del');
    expect((await ssh.execCommand('command -v docker')).code).not.toBe(0);
  });
});
