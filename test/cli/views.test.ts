import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BootProgress } from '../../functions/platform/boot-state.js';
import type { BootOutput } from '../../functions/orchestrations/boot-platform.js';
import { loadTopology } from '../../functions/platform/load.js';
import { planTopology } from '../../functions/platform/plan.js';
import { FrameProgress, LineProgress, layoutOf, progressRows, type ProgressLayout } from '../../bootstrap-cli/progress.js';
import { apiUsage, deploySummary, failureReport, registryTable, statusView, timeline } from '../../bootstrap-cli/views.js';
import type { HistoryEvent } from '../../bootstrap-cli/api-client.js';
import { EXAMPLE_TOPOLOGY } from '../helpers/topology.js';

const layout: ProgressLayout = {
  vms: [
    { name: 'vm-a', steps: ['kafka', 'auth'] },
    { name: 'vm-b', steps: ['web'] },
  ],
};

const snapshots: BootProgress[] = [
  { phase: 'starting', vms: { provisioning: ['vm-a', 'vm-b'] }, services: { building: ['kafka', 'auth', 'web'] } },
  { phase: 'starting', vms: { running: ['vm-a'], provisioning: ['vm-b'] }, services: { starting: ['kafka'], building: ['auth', 'web'] } },
  { phase: 'starting', vms: { running: ['vm-a'], provisioning: ['vm-b'] }, services: { starting: ['kafka'], building: ['auth', 'web'] } },
  { phase: 'finished', vms: { running: ['vm-a'], failed: ['vm-b'] }, services: { running: ['kafka', 'auth'], failed: ['web'] }, failed: 2 },
];

describe('progress renderer', () => {
  it('orders rows by VM with its steps, pending when the snapshot does not name them', () => {
    expect(progressRows(layout, null).map((r) => `${r.kind}:${r.name}:${r.state}`)).toEqual([
      'vm:vm-a:pending',
      'service:kafka:pending',
      'service:auth:pending',
      'vm:vm-b:pending',
      'service:web:pending',
    ]);
    const plan = planTopology(loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8')));
    const rows = progressRows(layoutOf(plan), null);
    expect(rows.filter((r) => r.kind === 'vm').map((r) => r.name)).toEqual(plan.vms);
    expect(rows.filter((r) => r.kind === 'service').map((r) => r.name).sort()).toEqual(['kafka', ...plan.services.map((s) => s.name)].sort());
  });

  it('without a terminal prints one line per state change and nothing for an unchanged snapshot', () => {
    const p = new LineProgress(layout);
    const out = snapshots.map((s) => p.update(s));
    expect(out[0]).toEqual([
      'vm vm-a: provisioning',
      'service kafka (vm-a): building',
      'service auth (vm-a): building',
      'vm vm-b: provisioning',
      'service web (vm-b): building',
    ]);
    expect(out[1]).toEqual(['vm vm-a: running', 'service kafka (vm-a): starting']);
    expect(out[2]).toEqual([]);
    expect(out[3]).toEqual(['vm vm-b: failed', 'service kafka (vm-a): running', 'service auth (vm-a): running', 'service web (vm-b): failed'].sort((a, b) => order(a) - order(b)));
    for (const line of out.flat()) expect(line).not.toMatch(/\x1b/);
  });

  it('on a terminal redraws the same block in place: cursor up by the previous height, every line cleared', () => {
    const p = new FrameProgress(layout);
    const first = p.frame(snapshots[0]);
    expect(first.startsWith('\x1b[2K')).toBe(true); // nothing to move over the first time
    const height = first.split('\n').length - 1;
    expect(height).toBe(6); // summary + 2 VMs + 3 steps
    const second = p.frame(snapshots[1], 4_000);
    expect(second.startsWith(`\x1b[${height}A`)).toBe(true);
    const lines = second.slice(`\x1b[${height}A`.length).split('\n').slice(0, -1);
    expect(lines).toHaveLength(height);
    for (const l of lines) expect(l.startsWith('\x1b[2K')).toBe(true);
    expect(lines[0]).toContain('boot starting: 1/2 VMs up, 0/3 services running (4 s)');
    expect(lines[1]).toMatch(/✔ vm-a\s+running$/);
    expect(lines[2]).toMatch(/…\s+kafka\s+starting$/);
    const last = p.frame(snapshots[3]);
    expect(last).toContain('boot finished: 1/2 VMs up, 2/3 services running, 1 failed');
    expect(last).toMatch(/✖ vm-b\s+failed/);
    expect(last).toMatch(/✖\s+web\s+failed/);
  });
});

function order(line: string): number {
  return ['vm-a:', 'kafka', 'auth', 'vm-b:', 'web'].findIndex((k) => line.includes(k));
}

describe('registry table', () => {
  it('shows service, kind, VM, endpoint and status, grouped by VM', () => {
    const text = registryTable([
      { service: 'web', kind: 'app', vm: 'vm-b', host: '127.1.0.3', port: 8080, status: 'running' },
      { service: 'kafka', kind: 'broker', vm: 'vm-a', host: '127.1.0.2', port: 9092, status: 'running' },
      { service: 'auth', kind: 'microservice', vm: 'vm-a', host: '127.1.0.2', port: 8001, status: 'failed' },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+KIND\s+VM\s+ENDPOINT\s+STATUS$/);
    expect(lines[1]).toMatch(/^auth\s+microservice\s+vm-a\s+http:\/\/127\.1\.0\.2:8001\s+failed$/);
    expect(lines[2]).toMatch(/^kafka\s+broker\s+vm-a\s+127\.1\.0\.2:9092\s+running$/);
    expect(lines[3]).toMatch(/^web\s+app\s+vm-b\s+http:\/\/127\.1\.0\.3:8080\s+running$/);
    // Columns line up.
    expect(new Set(lines.map((l) => l.indexOf(l.split(/\s{2,}/)[3]!))).size).toBe(1);
    expect(registryTable([])).toMatch(/empty/);
  });
});

const failedBoot: BootOutput = {
  status: 'partial',
  vms: [
    { name: 'vm-core', status: 'running', publicIp: '127.0.0.10', powerState: 'running' },
    { name: 'vm-sensors', status: 'failed' },
  ],
  services: [
    { name: 'kafka', kind: 'broker', vm: 'vm-core', status: 'running', host: '127.0.0.10', port: 9092, startedAt: '2026-01-01T00:00:01.000Z' },
    { name: 'authentication', kind: 'microservice', vm: 'vm-core', status: 'failed' },
    { name: 'request-manager', kind: 'microservice', vm: 'vm-core', status: 'blocked', blockedBy: 'authentication' },
    { name: 'sensor-manager', kind: 'microservice', vm: 'vm-sensors', status: 'failed' },
    { name: 'sensor-binder', kind: 'microservice', vm: 'vm-sensors', status: 'failed' },
    { name: 'anomaly-model', kind: 'model', vm: 'vm-apps', status: 'blocked', blockedBy: 'sensor-binder' },
    { name: 'dashboard', kind: 'app', vm: 'vm-apps', status: 'blocked', blockedBy: 'request-manager' },
  ],
  failures: [
    { target: 'authentication', kind: 'service', step: 'build', reason: "BuildError: Activity function 'prepareImage' failed: docker build exited 1: npm ERR! missing script: start" },
    { target: 'vm-sensors', kind: 'vm', step: 'provision', reason: 'AllocationFailed: no capacity for Standard_B2s in westeurope' },
    { target: 'sensor-manager', kind: 'service', step: 'vm', reason: 'VM "vm-sensors" failed (provision)' },
    { target: 'sensor-binder', kind: 'service', step: 'vm', reason: 'VM "vm-sensors" failed (provision)' },
  ],
};

describe('failure report', () => {
  const text = failureReport(failedBoot);

  it('lists each root cause once with target, step and cause; VM casualties under their VM', () => {
    expect(text.split('\n')[0]).toBe('2 failures:');
    expect(text).toContain('✖ VM vm-sensors — step provision: AllocationFailed: no capacity for Standard_B2s in westeurope');
    expect(text).toContain('not started (placed on vm-sensors): sensor-manager, sensor-binder');
    expect(text).toContain('✖ service authentication on vm-core — step build (prepareImage): docker build exited 1: npm ERR! missing script: start');
    expect(text).not.toMatch(/✖ service sensor-manager/);
  });

  it('names what each failure blocked, transitively', () => {
    const auth = text.slice(text.indexOf('service authentication'), text.indexOf('VM vm-sensors') > text.indexOf('service authentication') ? text.indexOf('VM vm-sensors') : undefined);
    expect(auth).toContain('blocked (depend on it): request-manager, dashboard');
    const vm = text.slice(text.indexOf('VM vm-sensors'));
    expect(vm).toContain('blocked (depend on it): anomaly-model');
    expect(text).toMatch(/What to do:/);
  });

  it('is empty when nothing failed', () => {
    expect(failureReport({ failures: [], services: failedBoot.services })).toBe('');
  });
});

describe('history timeline', () => {
  const op = { id: 'restart-svc-auth', name: 'restartService', runtimeStatus: 'Completed', createdTime: '2026-01-01T10:00:00.000Z', lastUpdatedTime: '2026-01-01T10:00:04.500Z' };
  const history: HistoryEvent[] = [
    { EventType: 'ExecutionStarted', Timestamp: '2026-01-01T10:00:00.000Z', FunctionName: 'restartService' },
    { EventType: 'TaskCompleted', Timestamp: '2026-01-01T10:00:00.250Z', FunctionName: 'readRestartTarget', ScheduledTime: '2026-01-01T10:00:00.050Z', Result: { service: 'auth', vm: 'vm-core' } },
    { EventType: 'TaskFailed', Timestamp: '2026-01-01T10:00:02.100Z', FunctionName: 'restartContainer', ScheduledTime: '2026-01-01T10:00:00.300Z', Reason: "Error: Activity function 'restartContainer' failed: ssh: connection reset" },
    { EventType: 'TimerFired', Timestamp: '2026-01-01T10:00:03.100Z', ScheduledTime: '2026-01-01T10:00:02.100Z' },
    { EventType: 'ExecutionCompleted', Timestamp: '2026-01-01T10:00:04.500Z', OrchestrationStatus: 'Completed', Result: { outcome: 'restarted' } },
  ];
  const lines = timeline(op, history).split('\n');

  it('heads with the operation, its status and its duration', () => {
    expect(lines[0]).toBe('restart-svc-auth (restartService) Completed — started 2026-01-01T10:00:00.000Z, 4.5 s');
    expect(lines[1]).toMatch(/^TIME\s+\+\s+EVENT\s+STEP\s+TOOK\s+NOTE$/);
  });

  it('shows each step with its time, offset, duration, subject and failure', () => {
    expect(lines[2]).toMatch(/^10:00:00\.000\s+0 ms\s+started\s+restartService$/);
    expect(lines[3]).toMatch(/^10:00:00\.250\s+250 ms\s+step done\s+readRestartTarget auth\s+200 ms$/);
    expect(lines[4]).toMatch(/^10:00:02\.100\s+2\.1 s\s+step failed\s+restartContainer\s+1\.8 s\s+✖ ssh: connection reset$/);
    expect(lines[5]).toMatch(/timer fired\s+1\.0 s$/);
    expect(lines[6]).toMatch(/completed\s+Completed$/);
    expect(lines.at(-1)).toBe('1 failed step');
  });
});

describe('status, API usage and the deploy summary', () => {
  it('status shows VMs, services and running operations', () => {
    const text = statusView(
      {
        name: 'iot',
        vms: [{ name: 'vm-core', powerState: 'running', publicIp: '127.0.0.10' }],
        services: [{ name: 'auth', kind: 'microservice', vm: 'vm-core', status: 'running', host: '127.0.0.10', port: 8001, restartCount: 2 }],
        operations: [{ id: 'watchdog', name: 'watchdog', runtimeStatus: 'Running', createdTime: '2026-01-01T10:00:00.000Z' }],
      },
      new Date('2026-01-01T10:01:30.000Z'),
    );
    expect(text).toMatch(/vm-core\s+running\s+127\.0\.0\.10/);
    expect(text).toMatch(/auth\s+microservice\s+vm-core\s+http:\/\/127\.0\.0\.10:8001\s+running\s+2/);
    expect(text).toMatch(/watchdog\s+watchdog\s+Running\s+1 min 30 s/);
  });

  it('API usage gives the base URL and a curl line; an environment key is referenced, not printed', () => {
    const generated = apiUsage('http://127.0.0.1:7071', 'k3y', false);
    expect(generated).toContain('curl -s -H "x-functions-key: k3y" http://127.0.0.1:7071/api/registry');
    expect(generated).toContain('central UI: http://127.0.0.1:7071/api/ui/');
    expect(generated.split('\n').find((l) => l.startsWith('central UI'))).not.toContain('k3y');
    const fromEnv = apiUsage('http://127.0.0.1:7071', 'secret-from-env', true);
    expect(fromEnv).not.toContain('secret-from-env');
    expect(fromEnv).toContain('x-functions-key: $LCM_API_KEY');
  });

  it('the deploy summary carries the documented fields', () => {
    const s = deploySummary({ id: 'boot', runtimeStatus: 'Completed', output: failedBoot }, 'http://127.0.0.1:7071');
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['instanceId', 'runtimeStatus', 'apiUrl', 'vms', 'services', 'failures']));
    expect(s.vms[1]).toEqual({ name: 'vm-sensors', publicIp: null, powerState: 'failed' });
    expect(s.services[0]).toEqual({ name: 'kafka', kind: 'broker', vm: 'vm-core', host: '127.0.0.10', port: 9092, status: 'running', startedAt: '2026-01-01T00:00:01.000Z' });
    expect(s.failures).toHaveLength(4);
  });
});
