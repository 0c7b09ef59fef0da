/**
 * TEMPORARY image hook for `apache/kafka:3.7.0`: the home-made broker bundled (esbuild) onto the
 * local node image, until the real Apache Kafka image replaces it behind the same hook
 * (`images: { 'apache/kafka': hook }` of the fleet). Labelled as a stand-in in its config.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { layerFromDir, nodeImage, type ImageDefinition } from '../images.js';

const ENTRY = fileURLToPath(new URL(`./main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export async function kafkaStandInImage(log?: (line: string) => void): Promise<ImageDefinition> {
  const node = await nodeImage(log);
  const bundle = await build({ entryPoints: [ENTRY], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, logLevel: 'silent',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  const code = bundle.outputFiles[0]!.contents;
  const key = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = mkdtempSync(join(tmpdir(), 'lcm-kafka-image-'));
  try {
    mkdirSync(join(dir, 'opt/kafka'), { recursive: true });
    writeFileSync(join(dir, 'opt/kafka/broker.mjs'), code);
    const layer = await layerFromDir(`kafka-standin-${key}`, dir);
    return {
      repository: 'apache/kafka',
      tags: ['3.7.0'],
      layers: [...node.layers, layer],
      config: {
        Env: [...(node.config.Env ?? []), 'LCM_STAND_IN=home-made Kafka broker (temporary, until the Apache Kafka image)'],
        Cmd: ['node', '/opt/kafka/broker.mjs'],
        WorkingDir: '/opt/kafka',
        ExposedPorts: { '9092/tcp': {} },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
