/**
 * The Kafka image the local registry serves is the one its Dockerfile describes: the OCI config
 * handed to the registry states the Dockerfile's ENV, USER, WORKDIR, EXPOSE and ENTRYPOINT, and
 * its name is the one the example's Kafka service builds FROM.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { KAFKA_IMAGE, KAFKA_IMAGE_CONFIG } from '../../local/images/kafka/index.js';

const dockerfile = readFileSync(new URL('../../local/images/kafka/Dockerfile', import.meta.url), 'utf8')
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'));
const instr = (name: string) => dockerfile.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

it("states the Dockerfile's ENV, USER, WORKDIR, EXPOSE and ENTRYPOINT", () => {
  expect(instr('FROM')).toEqual(['scratch']);
  expect(KAFKA_IMAGE_CONFIG.Env).toEqual(instr('ENV').flatMap((l) => l.split(/\s+/)));
  expect(KAFKA_IMAGE_CONFIG.User).toBe(instr('USER').at(-1));
  expect(KAFKA_IMAGE_CONFIG.WorkingDir).toBe(instr('WORKDIR').at(-1));
  expect(KAFKA_IMAGE_CONFIG.Entrypoint).toEqual(JSON.parse(instr('ENTRYPOINT').at(-1)!));
  expect(Object.keys(KAFKA_IMAGE_CONFIG.ExposedPorts ?? {})).toEqual(instr('EXPOSE').flatMap((l) => l.split(/\s+/)).map((p) => `${p}/tcp`));
  expect(KAFKA_IMAGE_CONFIG.Cmd).toBeUndefined();
});

it("is the image the example's Kafka service builds FROM", () => {
  const example = readFileSync(new URL('../../examples/iot-platform/services/kafka/Dockerfile', import.meta.url), 'utf8');
  expect(example).toMatch(new RegExp(`^FROM ${KAFKA_IMAGE.replace(/[.]/g, '\\.')}$`, 'm'));
  expect(KAFKA_IMAGE).toBe('apache/kafka:3.9.1');
});
