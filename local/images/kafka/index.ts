/**
 * The example platform's Kafka broker image, from TypeScript: runs build.sh (Apache Kafka's jars from
 * Maven Central, a Debian 12 JRE, cached under the project cache's kafka/ folder) and hands back the
 * image the local VMs pull as `apache/kafka:3.9.1`: the build's two tars as layers and the config
 * its Dockerfile states. KAFKA_IMAGE is the name the example's Dockerfile builds FROM; the
 * official image has the same one.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { layerOf, type ImageDefinition } from '../../azure/vm/images.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const BUILD = join(here, 'build.sh');

export const KAFKA_VERSION = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(here, 'pom.xml'), 'utf8'))![1]!;
export const KAFKA_REPOSITORY = 'apache/kafka';
export const KAFKA_IMAGE = `${KAFKA_REPOSITORY}:${KAFKA_VERSION}`;

async function build(args: string[], log?: (line: string) => void): Promise<string> {
  try {
    const child = run('bash', [BUILD, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 });
    // build.sh says what it does (on stderr) only when it has work to do: a cached build is silent.
    child.child.stderr?.on('data', (d) => String(d).split('\n').filter(Boolean).forEach((l) => log?.(l)));
    const { stdout } = await child;
    return stdout.trim().split('\n').at(-1)!;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `preparing the Kafka broker image (${BUILD} ${args.join(' ')}) failed: ${(err.stderr ?? '').trim().split('\n').slice(-8).join('\n') || err.message}\n` +
        'It needs Maven (with a JRE) and debootstrap: `npm run setup` installs them and shows every step.',
      { cause: e },
    );
  }
}

/** Builds KAFKA_IMAGE into each Docker daemon given (e.g. a private dockerd's socket); returns the build context. */
export function buildKafkaImage(dockerHosts: string[] = [], log?: (line: string) => void): Promise<string> {
  return build(dockerHosts.flatMap((h) => ['--docker-host', h]), log);
}

/** What the Dockerfile beside build.sh states (ENV, USER, WORKDIR, EXPOSE, ENTRYPOINT; a unit test checks they agree). */
export const KAFKA_IMAGE_CONFIG: ImageDefinition['config'] = {
  Env: ['KAFKA_HOME=/opt/kafka', 'PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8'],
  User: 'appuser',
  WorkingDir: '/opt/kafka',
  Entrypoint: ['/opt/kafka/bin/kafka-run'],
  // The topology's listeners: internal (kafka.port 9092), controller (9093), external (9094).
  ExposedPorts: { '9092/tcp': {}, '9093/tcp': {}, '9094/tcp': {} },
};

/**
 * `apache/kafka:3.9.1` for the machine's registry (the fleet's `images` hook): the same layers and
 * config `docker build` makes of the build context's Dockerfile, without a Docker engine.
 */
export async function kafkaImage(log?: (line: string) => void): Promise<ImageDefinition> {
  const context = await buildKafkaImage([], log);
  const [jre, kafka] = await Promise.all([layerOf(join(context, 'debian-12-jre17.tar')), layerOf(join(context, 'kafka.tar'))]);
  return {
    repository: KAFKA_REPOSITORY,
    tags: [KAFKA_VERSION],
    layers: [jre, kafka],
    config: KAFKA_IMAGE_CONFIG,
  };
}
