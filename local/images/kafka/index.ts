/**
 * The example platform's Kafka broker image, from TypeScript: runs build.sh (Apache Kafka's jars from
 * Maven Central, a Debian JRE, cached in LCM_CACHE_DIR) and hands back where the results are.
 * KAFKA_IMAGE is the name the example's Dockerfile builds FROM; the official image has the same one.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const BUILD = join(here, 'build.sh');

export const KAFKA_VERSION = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(here, 'pom.xml'), 'utf8'))![1];
export const KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;

async function build(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [BUILD, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 });
    return stdout.trim().split('\n').at(-1)!;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `preparing the Kafka broker (${BUILD} ${args.join(' ')}) failed: ${(err.stderr ?? '').trim().split('\n').slice(-8).join('\n') || err.message}\n` +
        'It needs Maven and Java 17 (and debootstrap for the image); run `npm run setup:kafka` to see every step.',
      { cause: e },
    );
  }
}

/** Kafka's home (bin/kafka-run, config/, libs/) in the cache: what the local VMs run the broker from. */
export function ensureKafkaHome(): Promise<string> {
  return build(['--jars-only']);
}

/** Builds KAFKA_IMAGE into each Docker daemon given (e.g. unix:///run/vm-core/docker.sock); returns the build context. */
export function buildKafkaImage(dockerHosts: string[] = []): Promise<string> {
  return build(dockerHosts.flatMap((h) => ['--docker-host', h]));
}
