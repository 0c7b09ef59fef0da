/**
 * No secret value in anything the orchestration world stores or shows (design principle 4): after a
 * boot and a service restart through the API, every instance's input, output, custom status and
 * full history (through the host, its durable webhooks and our status route), the task hub's SQLite
 * file row by row, the host's log lines, every GET route's answer, and every document of the central
 * database are scanned for the secret values the platform runs with.
 *
 * The scan is checked against itself: values planted in a copy of the collected data are found where
 * they were planted, and the real values are found where they legitimately live (the VMs' env files).
 */
import Database from 'better-sqlite3';
import { cpSync, readdirSync, readFileSync, lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS, createCosmosClient } from '../../functions/cloud/central-db.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { EXAMPLE_TOPOLOGY, exampleDocument } from '../helpers/topology.js';
import { hang } from '../helpers/hang-guard.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Source {
  /** Where the text was found, precise enough to go and look. */
  where: string;
  text: string;
}

interface Secret {
  name: string;
  /** The forms the value may take once embedded: raw, JSON-escaped, URL-encoded, key body lines. */
  variants: string[];
}

interface Finding {
  where: string;
  secret: string;
  /** Surroundings with the value itself redacted, so the report does not leak it again. */
  context: string;
}

const SAS_SIGNATURE = /(?:^|[^A-Za-z0-9_])sig(?:=|%3D)/i;

function variantsOf(value: string): string[] {
  return [...new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])];
}

/** A PEM/OpenSSH private key: the whole text, each base64 body line and the joined body. */
function privateKeyVariants(pem: string): string[] {
  const body = pem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('-----'));
  const lines = body.filter((l) => l.length >= 16);
  return [...new Set([...variantsOf(pem.trim()), ...lines.flatMap(variantsOf), ...variantsOf(body.join(''))])];
}

function secretsOf(p: TestPlatform): Secret[] {
  const signingKey = p.settings.AUTH_TOKEN_SIGNING_KEY;
  if (!signingKey) throw new Error('the test platform gave no AUTH_TOKEN_SIGNING_KEY: the example topology changed?');
  return [
    { name: 'VM SSH private key', variants: privateKeyVariants(p.azure.sshPrivateKey) },
    { name: 'Cosmos DB key', variants: variantsOf(p.azure.cosmos.key) },
    { name: 'storage account key', variants: variantsOf(p.azure.files.accountKey) },
    { name: 'storage connection string', variants: variantsOf(p.azure.files.connectionString) },
    { name: 'LCM API key', variants: variantsOf(p.key) },
    { name: 'durable system key', variants: variantsOf(p.host.systemKey) },
    { name: 'AUTH_TOKEN_SIGNING_KEY value', variants: variantsOf(signingKey) },
    { name: 'LEAKY_TOKEN value (a service logs it)', variants: variantsOf(p.settings.LEAKY_TOKEN_SECRET!) },
    { name: 'monitoring key', variants: variantsOf(p.monitoringKey) },
    { name: 'service key', variants: variantsOf(p.settings.LCM_SERVICE_API_KEY!) },
    { name: 'host-key seed', variants: variantsOf(p.settings.LCM_HOST_KEY_SEED!) },
    // The managed identity endpoint's guard header: whoever holds it mints the LCM's tokens.
    { name: 'identity endpoint header', variants: variantsOf(p.settings.IDENTITY_HEADER!) },
    // Each VM's SSH host key: derived inside the activity, given to ARM as customData, on the VM's disk.
    ...p.topology.vms.map((vm) => ({
      name: `SSH host private key of ${vm.name}`,
      variants: privateKeyVariants(readFileSync(join(p.azure.fleet.get(vm.name)!.disk, 'ssh/ssh_host_ed25519_key'), 'utf8')),
    })),
  ];
}

function redact(text: string, at: number, length: number, name: string): string {
  const from = Math.max(0, at - 60);
  return `${text.slice(from, at)}<${name}>${text.slice(at + length, at + length + 60)}`.replace(/\s+/g, ' ');
}

function scan(sources: Source[], secrets: Secret[]): Finding[] {
  const findings: Finding[] = [];
  for (const { where, text } of sources) {
    for (const secret of secrets) {
      const variant = secret.variants.find((v) => text.includes(v));
      if (variant) {
        // Every other form of the value in the surroundings is hidden too: the report must not leak it.
        const context = secret.variants.reduce((c, v) => c.split(v).join(`<${secret.name}>`), redact(text, text.indexOf(variant), variant.length, secret.name));
        findings.push({ where, secret: secret.name, context });
      }
    }
    const sas = SAS_SIGNATURE.exec(text);
    if (sas) findings.push({ where, secret: 'SAS signature (sig=)', context: redact(text, sas.index, sas[0].length + 20, 'sig=…') });
  }
  return findings;
}

function report(findings: Finding[]): string {
  return `SECRET VALUES FOUND (${findings.length}):\n${findings.map((f) => `  ${f.secret} in ${f.where}\n      …${f.context}…`).join('\n')}`;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value) ?? '');

// ---------------------------------------------------------------------------------------------

let p: TestPlatform;
const logLines: string[] = [];
const postResponses: Source[] = [];
let storeFile: string;
let bootOutput = '';
let leakyRestart: any;

beforeAll(async () => {
  storeFile = join(tempDir('lcm-secrets-'), 'hub.sqlite');
  // The example platform plus a service that logs its secret and never becomes healthy: its
  // failure is stored and shown, and must name where to read the log, not carry it.
  const codeRoot = tempDir('lcm-secrets-code-');
  cpSync(join(dirname(EXAMPLE_TOPOLOGY), 'services'), codeRoot, { recursive: true });
  cpSync(new URL('../fixtures/services/leaky', import.meta.url).pathname, join(codeRoot, 'leaky'), { recursive: true });
  const doc = exampleDocument();
  doc.services.push({ name: 'leaky', kind: 'microservice', vm: 'vm-apps', port: 8096, source: 'leaky', secretEnv: { LEAKY_TOKEN: 'LEAKY_TOKEN_SECRET' }, health: { startupTimeoutInMs: 2_000 } });
  p = await startTestPlatform({ topology: assertTopology(doc), codeRoot, storeFile, hostLog: (line) => logLines.push(line) });
  for (const path of ['boot', 'services/authentication/restart']) {
    const res = await p.api(path, { method: 'POST' });
    const body = await res.text();
    expect(res.status, `POST ${path}: ${body}`).toBe(202);
    // 202 answers carry the durable URLs, system key included, by design (as Azure's do): not scanned for it.
    postResponses.push({ where: `response of POST /api/${path}`, text: body });
    // The example boots Apache Kafka (a JVM): on a busy machine the boot takes minutes.
    const done = await p.host.waitForInstance((JSON.parse(body) as { id: string }).id, { timeoutInMs: hang(240_000) });
    expect(done.runtimeStatus, JSON.stringify(done.output)).toBe('Completed');
    if (path === 'boot') bootOutput = JSON.stringify(done.output);
  }
  // A failed restart of the leaky service as well (the restart path's own failure handling).
  leakyRestart = await p.run('services/leaky/restart', undefined, 60_000);
  // A failure path as well: errors are stored (TaskFailed, reasons, events) and logged.
  p.azure.arm.faults.failOperation('vm.restart', { vmName: 'vm-ops', code: 'AllocationFailed', message: 'injected by no-secrets.test', count: 10 });
  const failed = await p.run('vms/vm-ops/restart', undefined, 60_000);
  p.azure.arm.faults.clear();
  expect((failed.output as { outcome: string }).outcome, JSON.stringify(failed.output)).toBe('failed');
}, hang(420_000));

afterAll(async () => {
  await p?.stop();
});

async function get(url: string, headers: Record<string, string> = {}): Promise<Source> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status >= 400) throw new Error(`GET ${url.replace(/code=[^&]+/, 'code=…')}: ${res.status} ${body.slice(0, 200)}`);
  return { where: `GET ${new URL(url).pathname}${new URL(url).search.replace(/code=[^&]+/, 'code=…')}`, text: body };
}

/** Everything the orchestration world stores or shows, as texts with where they came from. */
async function collect(): Promise<Source[]> {
  const out: Source[] = [];
  const full = { showHistory: true, showHistoryOutput: true, showInput: true };
  const instances = p.host.listInstances({}, full);
  for (const listed of instances) {
    const id = listed.instanceId;
    const s = p.host.getInstance(id, full)!;
    out.push({ where: `instance ${id}: input`, text: text(s.input) });
    out.push({ where: `instance ${id}: output`, text: text(s.output) });
    out.push({ where: `instance ${id}: customStatus`, text: text(s.customStatus) });
    (s.historyEvents ?? []).forEach((e, i) => out.push({ where: `instance ${id}: history[${i}] ${String(e.EventType)} ${String(e.FunctionName ?? e.Name ?? '')}`, text: text(e) }));
    out.push({ where: `instance ${id}: timeline`, text: text(p.host.getTimeline(id)) });
    // The same through HTTP: our status route and the durable extension's webhook.
    out.push(await get(`${p.host.baseUrl}/api/operations/${encodeURIComponent(id)}?history=true`, { 'x-functions-key': p.key }));
    const webhook = await get(
      `${p.host.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}?showHistory=true&showHistoryOutput=true&showInput=true&code=${encodeURIComponent(p.host.systemKey)}`,
    );
    out.push(webhook);
  }
  out.push(await get(`${p.host.baseUrl}/runtime/webhooks/durabletask/instances?showInput=true&code=${encodeURIComponent(p.host.systemKey)}`));

  // The task hub file itself: every row of every table (activity inputs live only here).
  const db = new Database(storeFile, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>;
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT rowid AS __rowid, * FROM "${name}"`).all() as Array<Record<string, unknown>>;
      for (const row of rows) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value === 'string' || Buffer.isBuffer(value)) {
            out.push({ where: `task hub table ${name} row ${String(row.__rowid)} column ${column}`, text: Buffer.isBuffer(value) ? value.toString('utf8') : value });
          }
        }
      }
    }
  } finally {
    db.close();
  }

  logLines.forEach((line, i) => out.push({ where: `host log line ${i + 1}`, text: line }));

  // Every GET route, with every name it knows.
  const registry = JSON.parse((await get(`${p.host.baseUrl}/api/registry`, { 'x-functions-key': p.key })).text) as Array<{ service: string }>;
  const fill: Record<string, string[]> = {
    service: registry.map((e) => e.service),
    name: p.topology.services.map((s) => s.name),
    id: instances.map((s) => s.instanceId),
    // The central UI's script and stylesheet are built before any secret exists and hold no runtime
    // data (the bundled redaction patterns would only match the SAS pattern itself): the page is scanned.
    file: [],
  };
  for (const reg of p.host.registrations.filter((r) => r.kind === 'http' && r.methods!.includes('GET'))) {
    const param = /\{(\w+)\}/.exec(reg.route!)?.[1];
    const paths = param ? fill[param]!.map((v) => reg.route!.replace(`{${param}}`, encodeURIComponent(v))) : [reg.route!];
    for (const path of paths) out.push(await get(`${p.host.baseUrl}/api/${path}${param === 'id' ? '?history=true' : ''}`, { 'x-functions-key': p.key }));
  }

  // The central database: every document of every container (events, registry, VMs, desired state, host keys).
  const cosmos = createCosmosClient({ endpoint: p.azure.cosmos.endpoint, credential: p.azure.userCredential, caCert: p.azure.caCert });
  for (const { id: container } of Object.values(CONTAINERS)) {
    const { resources } = await cosmos.database('lcm').container(container).items.readAll().fetchAll();
    for (const doc of resources) out.push({ where: `central database ${container}/${String(doc.id)}`, text: text(doc) });
  }
  out.push({ where: 'db.listEvents()', text: text(await p.db.listEvents({ limit: 1000 })) });
  out.push({ where: 'db.listEntries()', text: text(await p.db.listEntries()) });
  return out;
}

/** Files of a VM's sandbox (small ones): where secrets legitimately live. */
function sandboxFiles(dir: string, out: Source[] = []): Source[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = lstatSync(path);
    if (stat.isDirectory()) sandboxFiles(path, out);
    else if (stat.isFile() && stat.size < 1_000_000) out.push({ where: `VM file ${path}`, text: readFileSync(path, 'utf8') });
  }
  return out;
}

describe('no secret in anything the orchestration world stores or shows', () => {
  let sources: Source[];
  let secrets: Secret[];

  beforeAll(async () => {
    sources = await collect();
    secrets = secretsOf(p);
  }, hang(60_000));

  it('the collection is not empty: instances with history, task hub rows, log lines, GET answers, database documents', () => {
    const count = (prefix: RegExp) => sources.filter((s) => prefix.test(s.where)).length;
    const instanceIds = new Set(sources.map((s) => /^instance ([^:]+):/.exec(s.where)?.[1]).filter(Boolean));
    // boot, one boot-vm per VM, the watchdog, the restart.
    expect(instanceIds.size).toBeGreaterThanOrEqual(p.topology.vms.length + 3);
    expect(instanceIds).toContain('restart-svc-authentication');
    expect(count(/: history\[\d+\] TaskCompleted/)).toBeGreaterThan(20);
    expect(sources.some((s) => /history\[\d+\] TaskCompleted startService/.test(s.where) && s.text.includes('"Result"'))).toBe(true);
    expect(count(/^task hub table /)).toBeGreaterThan(50);
    expect(count(/^host log line /)).toBeGreaterThan(0);
    expect(count(/^GET \/api\/services\/[^/]+$/)).toBe(p.topology.services.length);
    expect(count(/^GET \/api\/services\/[^/]+\/logs$/)).toBe(p.topology.services.length);
    expect(count(/^central database events\//)).toBeGreaterThanOrEqual(6);
    expect(sources.some((s) => s.where.startsWith('central database events/restart-svc-authentication'))).toBe(true);
    // The failure path was recorded too: the failed activity in the history and in the log.
    expect(sources.some((s) => /^instance restart-vm-vm-ops: history\[\d+\] TaskFailed restartVm/.test(s.where))).toBe(true);
    expect(logLines.some((l) => /restartVm.*failed/.test(l))).toBe(true);
    // Every service but leaky (it never became healthy), plus Kafka.
    expect(count(/^central database registry\//)).toBe(p.topology.services.length - 1 + 1);
    // Activity inputs are only in the task hub file: make sure they were read (startService gets the secretEnv names).
    expect(sources.some((s) => s.where.startsWith('task hub table') && s.text.includes('AUTH_TOKEN_SIGNING_KEY'))).toBe(true);
  });

  it('a service that logs its secret fails with where to read its log, and its log (fetched on demand) is redacted', async () => {
    expect(bootOutput).toMatch(/leaky/);
    expect(bootOutput).toContain('bootstrap-cli logs leaky');
    expect(JSON.stringify(leakyRestart.output)).toMatch(/leaky/);
    // The secret really is in the container's log: the VM has it, the API's answer does not.
    const raw = await p.api('services/leaky/logs?lines=50');
    expect(raw.status).toBe(200);
    const body = (await raw.json()) as { text: string };
    expect(body.text).toContain('[redacted LEAKY_TOKEN_SECRET]');
    expect(body.text).not.toContain(p.settings.LEAKY_TOKEN_SECRET!);
    const onVm = await p.azure.fleet.docker('vm-apps', ['logs', '--tail', '50', 'leaky']);
    expect(onVm.includes(p.settings.LEAKY_TOKEN_SECRET!), 'the secret lives in the container log on the VM').toBe(true);
  });

  it('holds no secret value and no SAS signature', () => {
    const findings = scan(sources, secrets);
    if (findings.length > 0) throw new Error(report(findings));
    expect(findings).toEqual([]);
  });

  it('the 202 answers of the API carry no secret, the durable system key included', () => {
    expect(postResponses.length).toBeGreaterThan(0);
    const findings = scan(postResponses, secrets);
    if (findings.length > 0) throw new Error(report(findings));
  });

  it('positive control: a value planted in a copy of the data is found where it was planted', () => {
    const targets = [
      /history\[\d+\] TaskCompleted startService/,
      /^task hub table history /,
      /^host log line /,
      /^GET \/api\/services\/authentication/,
      /^central database events\//,
      /^instance restart-vm-vm-ops: output/,
      /^GET \/runtime\/webhooks/,
    ];
    const plants: Array<{ secret: string; embed: (s: string) => string }> = [
      // Each in the form it would most likely leak in.
      { secret: 'VM SSH private key', embed: (s) => s.replace(/^(.)/, `$1${JSON.stringify({ privateKey: p.azure.sshPrivateKey }).slice(1, -1)},`) },
      { secret: 'storage account key', embed: (s) => `${s} key=${p.azure.files.accountKey}` },
      { secret: 'AUTH_TOKEN_SIGNING_KEY value', embed: (s) => `${s}TOKEN_SIGNING_KEY=${p.settings.AUTH_TOKEN_SIGNING_KEY}` },
      { secret: 'LCM API key', embed: (s) => `${s}?code=${encodeURIComponent(p.key)}` },
      { secret: 'Cosmos DB key', embed: (s) => `${s}${JSON.stringify({ key: p.azure.cosmos.key })}` },
      { secret: 'storage connection string', embed: (s) => `${s}${p.azure.files.connectionString}` },
      { secret: 'SAS signature (sig=)', embed: (s) => `${s} https://a.file.core.windows.net/s/x?sv=2022&sp=r&sig=abc%2Bdef` },
    ];
    plants.forEach((plant, i) => {
      const copy = sources.map((s) => ({ ...s }));
      const target = copy.find((s) => targets[i]!.test(s.where));
      expect(target, `a source matching ${targets[i]}`).toBeDefined();
      target!.text = plant.embed(target!.text);
      const found = scan(copy, secrets);
      expect(found.map((f) => `${f.secret} @ ${f.where}`), plant.secret).toContain(`${plant.secret} @ ${target!.where}`);
      // Nothing else: the copy differs from the clean data in this one place only (the connection string holds the account key too).
      expect(found.every((f) => f.where === target!.where)).toBe(true);
    });
    // One base64 line of the SSH key alone (a log that wrapped the key) is found too.
    const line = p.azure.sshPrivateKey.split('\n').find((l) => l.length >= 60 && !l.startsWith('-----'))!;
    expect(scan([{ where: 'planted line', text: `… ${line} …` }], secrets).map((f) => f.secret)).toEqual(['VM SSH private key']);
  });

  it('positive control: the real values are found where they legitimately live, the VMs’ env files', () => {
    const core = p.azure.fleet.get('vm-core')!;
    const ops = p.azure.fleet.get('vm-ops')!;
    const onVms = [...sandboxFiles(core.home), ...sandboxFiles(ops.home)];
    const found = scan(onVms, secrets);
    expect(found.some((f) => f.secret === 'AUTH_TOKEN_SIGNING_KEY value' && f.where.endsWith('/.lcm/env/authentication.env')), JSON.stringify(found.map((f) => f.where))).toBe(true);
    expect(found.some((f) => f.secret === 'monitoring key' && f.where.endsWith('/.lcm/env/monitoring.env')), JSON.stringify(found.map((f) => f.where))).toBe(true);
    // Every other service holds the registry-only key, never the monitoring one.
    expect(found.some((f) => f.secret === 'service key' && f.where.endsWith('/.lcm/env/authentication.env')), JSON.stringify(found.map((f) => f.where))).toBe(true);
    expect(found.some((f) => f.secret === 'monitoring key' && f.where.endsWith('/.lcm/env/authentication.env'))).toBe(false);
    // The VM's SSH host key lives on the VM (cloud-init put it there from customData).
    const hostKeys = scan(sandboxFiles(join(core.disk, 'ssh')), secrets);
    expect(hostKeys.some((f) => f.secret === 'SSH host private key of vm-core' && f.where.endsWith('/ssh/ssh_host_ed25519_key')), JSON.stringify(hostKeys.map((f) => f.where))).toBe(true);
  });

  // Last: it leaves a planted secret in the task hub.
  it('positive control, end to end: a secret put into a real orchestration input is found in its status, timeline, the durable webhooks and the task hub file', async () => {
    const id = 'leak-probe';
    p.host.startNew('restartService', { instanceId: id, input: { service: 'no-such-service', kind: 'microservice', requestedBy: 'no-secrets.test', reason: `key ${p.azure.files.accountKey}` } });
    await p.host.waitForInstance(id, { timeoutInMs: hang(30_000) });
    const found = scan(await collect(), secrets).filter((f) => f.secret === 'storage account key');
    const places = found.map((f) => f.where);
    expect(places).toContain(`instance ${id}: input`);
    expect(places).toContain(`instance ${id}: timeline`);
    expect(places).toContain(`GET /runtime/webhooks/durabletask/instances/${id}?showHistory=true&showHistoryOutput=true&showInput=true&code=…`);
    expect(places.some((w) => /^task hub table instances row \d+ column input$/.test(w)), places.join('\n')).toBe(true);
    expect(places.some((w) => /^task hub table history row \d+ column event$/.test(w)), places.join('\n')).toBe(true);
  });
});
