import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../bootstrap-cli/main.js';
import type { CliIo } from '../../bootstrap-cli/io.js';
import { EXAMPLE_TOPOLOGY, minimalDocument } from '../helpers/topology.js';
import { tempDir } from '../helpers/temp-dir.js';

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), isTty: false };
  return { io, out, err };
}

function writeTopology(doc: unknown): string {
  const dir = tempDir('lcm-cli-');
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

describe('bootstrap-cli validate and plan', () => {
  it('validate exits 0 on the example', async () => {
    const c = captureIo();
    expect(await runCli(['validate', '--config', EXAMPLE_TOPOLOGY], c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/valid \(4 VMs, 9 services, kafka\)/);
  });

  it('validate exits 1 listing every error', async () => {
    const doc = minimalDocument();
    doc.services[0].dependsOn = ['kafak'];
    doc.services[1].vm = 'nowhere';
    const file = writeTopology(doc);
    const c = captureIo();
    expect(await runCli(['validate', '--config', file], c.io)).toBe(1);
    const text = c.err.join('\n');
    expect(text).toContain('invalid topology (2 errors)');
    expect(text).toContain('services[0].dependsOn[0]: unknown service "kafak"');
    expect(text).toContain('services[1].vm: unknown VM "nowhere"');
  });

  it('usage errors exit 2: missing option, unknown command, missing file', async () => {
    expect(await runCli(['plan'], captureIo().io)).toBe(2);
    expect(await runCli(['frobnicate'], captureIo().io)).toBe(2);
    const c = captureIo();
    expect(await runCli(['validate', '--config', '/nonexistent/topology.yaml'], c.io)).toBe(2);
    expect(c.err.join('')).toContain('/nonexistent/topology.yaml: no such file');
  });

  it('--help works on every command', async () => {
    for (const args of [['--help'], ['validate', '--help'], ['plan', '--help']]) {
      const c = captureIo();
      expect(await runCli(args, c.io)).toBe(0);
      expect(c.out.join('')).toContain('Usage: bootstrap-cli');
    }
  });

  it('plan prints a table by default', async () => {
    const c = captureIo();
    expect(await runCli(['plan', '--config', EXAMPLE_TOPOLOGY], c.io)).toBe(0);
    const text = c.out.join('');
    expect(text).toMatch(/^LEVEL\s+STEP\s+KIND\s+VM\s+AFTER/);
    expect(text).toMatch(/0\s+kafka\s+broker\s+vm-core/);
    expect(text).toContain('vm-core: kafka -> authentication -> request-manager');
  });

  it('plan --json prints vms, services and levels (through the bin entry)', async () => {
    const bin = new URL('../../bin/bootstrap-cli.js', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'plan', '--config', EXAMPLE_TOPOLOGY, '--json']);
    const plan = JSON.parse(stdout);
    expect(plan.vms).toEqual(['vm-core', 'vm-sensors', 'vm-apps', 'vm-ops']);
    expect(plan.levels[0]).toEqual(['kafka']);
    expect(plan.services).toContainEqual({
      name: 'dashboard',
      vm: 'vm-apps',
      kind: 'app',
      dependsOn: ['kafka', 'request-manager', 'sensor-manager'],
      level: 3,
    });
    for (const s of plan.services) expect(Object.keys(s)).toEqual(expect.arrayContaining(['name', 'vm', 'kind', 'dependsOn', 'level']));
  });
});
