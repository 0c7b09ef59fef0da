/** A service's npm dependencies are bundled from this project into its uploaded code. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { withDependencies } from '../../bootstrap-cli/service-deps.js';

const service = (pkg: object) => {
  const dir = mkdtempSync(join(tmpdir(), 'svc-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  writeFileSync(join(dir, 'server.js'), 'import "kafkajs";\n');
  return dir;
};
const installed = JSON.parse(readFileSync(new URL('../../node_modules/kafkajs/package.json', import.meta.url), 'utf8')).version as string;

it('stages a copy of the service with the installed package bundled under node_modules, and leaves the original alone', async () => {
  const dir = service({ type: 'module', dependencies: { kafkajs: installed } });
  const staged = await withDependencies(dir, 'sensor-controller');
  try {
    expect(staged.dir).not.toBe(dir);
    expect(readFileSync(join(staged.dir, 'server.js'), 'utf8')).toContain('kafkajs');
    expect(JSON.parse(readFileSync(join(staged.dir, 'node_modules/kafkajs/package.json'), 'utf8'))).toMatchObject({ version: installed, main: 'index.js' });
    expect(readdirSync(join(staged.dir, 'node_modules/kafkajs')).sort()).toEqual(['LICENSE', 'index.js', 'package.json']);
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    // The bundle is the library: a script in the staged folder imports it the way the services do.
    const probe = join(staged.dir, 'probe.mjs');
    writeFileSync(probe, "import kafkajs from 'kafkajs'; console.log(typeof kafkajs.Kafka, Object.keys(kafkajs.logLevel).join());\n");
    expect(execFileSync(process.execPath, [probe], { cwd: staged.dir, encoding: 'utf8' }).trim()).toBe('function NOTHING,ERROR,WARN,INFO,DEBUG');
  } finally {
    await staged.cleanup();
  }
  expect(existsSync(staged.dir)).toBe(false);
});

it('uploads a service without dependencies as it is', async () => {
  const dir = service({ type: 'module' });
  expect((await withDependencies(dir, 'auth')).dir).toBe(dir);
});

it('refuses a version other than the installed one, and a package not installed, naming the service', async () => {
  await expect(withDependencies(service({ dependencies: { kafkajs: '1.0.0' } }), 'sensor-manager')).rejects.toThrow(
    `service "sensor-manager" asks for kafkajs@1.0.0, this project has kafkajs@${installed}`,
  );
  await expect(withDependencies(service({ dependencies: { 'no-such-package-xyz': '1.0.0' } }), 'dashboard')).rejects.toThrow(
    'service "dashboard" depends on npm package "no-such-package-xyz", which is not installed in this project',
  );
});
