/**
 * Apache Kafka on the emulated VMs: a `docker run` of the apache/kafka image starts the real broker,
 * from Apache Kafka's own jars and the image's own entrypoint (local/images/kafka/kafka-run), as a
 * process on the VM's address, the way every other service runs on these VMs. It reads the same
 * KAFKA_* variables as the image; only what would escape the VM is moved into it: listeners bound to
 * all interfaces or localhost bind the VM's address, and the config and data directories live under
 * the VM's own state directory (the data one survives restarts and `docker rm`, like a named volume).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SpecialImage, SpecialImageContext } from '../vm/types.js';

export interface KafkaProcessImageOptions {
  /** Kafka's home from the cache (ensureKafkaHome()). */
  kafkaHome: string;
  /** Where each VM's broker keeps its config and data (one folder per VM). */
  stateDir: string;
  /** How long a stop waits for Kafka's controlled shutdown before killing it. */
  stopGraceMs?: number;
}

/** `PLAINTEXT://:9092`, `://0.0.0.0:9092`, `://localhost:9092` -> the VM's own address. */
export function bindToVm(listeners: string, ip: string): string {
  return listeners.replace(/:\/\/(0\.0\.0\.0|localhost|127\.0\.0\.1)?:/g, `://${ip}:`);
}

export function kafkaProcessImage(options: KafkaProcessImageOptions): SpecialImage {
  return {
    async start(ctx: SpecialImageContext) {
      const vmDir = join(options.stateDir, ctx.vm);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.env)) if (k.startsWith('KAFKA_') || k === 'CLUSTER_ID') env[k] = v;
      if (env.KAFKA_LISTENERS) env.KAFKA_LISTENERS = bindToVm(env.KAFKA_LISTENERS, ctx.ip);
      else if (env.KAFKA_ADVERTISED_LISTENERS) env.KAFKA_LISTENERS = bindToVm(env.KAFKA_ADVERTISED_LISTENERS.replace(/:\/\/[^:,]*:/g, '://:'), ctx.ip);
      if (env.KAFKA_CONTROLLER_QUORUM_VOTERS) env.KAFKA_CONTROLLER_QUORUM_VOTERS = env.KAFKA_CONTROLLER_QUORUM_VOTERS.replace(/@(localhost|127\.0\.0\.1|0\.0\.0\.0):/g, `@${ctx.ip}:`);
      // The image's default data path is inside the image; here it must be inside the VM.
      env.KAFKA_LOG_DIRS = (env.KAFKA_LOG_DIRS ?? '/tmp/kafka-logs')
        .split(',')
        .map((dir) => join(vmDir, 'data', dir))
        .join(',');
      const configDir = join(vmDir, 'config');
      mkdirSync(configDir, { recursive: true });
      const child: ChildProcess = spawn('bash', [join(options.kafkaHome, 'bin', 'kafka-run')], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          KAFKA_HOME: options.kafkaHome,
          KAFKA_CONFIG_DIR: configDir,
          // A VM here shares the machine with the rest of the platform: a smaller heap than the image's 1 GB.
          KAFKA_HEAP_OPTS: ctx.env.KAFKA_HEAP_OPTS ?? '-Xmx384m -Xms64m',
          KAFKA_JVM_PERFORMANCE_OPTS: '-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      for (const stream of [child.stdout, child.stderr]) stream?.on('data', (d: Buffer) => ctx.logs(d.toString('utf8')));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      return {
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const kill = (signal: NodeJS.Signals) => {
            try {
              process.kill(-child.pid!, signal); // the script and its JVMs
            } catch {
              // already gone
            }
          };
          kill('SIGTERM');
          const timer = setTimeout(() => kill('SIGKILL'), options.stopGraceMs ?? 10_000);
          await exited;
          clearTimeout(timer);
        },
      };
    },
  };
}
