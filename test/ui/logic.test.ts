/** The central UI's logic, without a browser: the editor's draft, where errors show, operations, routes. */
import { describe, expect, it } from 'vitest';
import { validateTopology } from '../../functions/platform/validate.js';
import { envRows, freshKey, freshName, getAt, listInput, numberInput, removeAt, renameKey, sameDocument, setAt } from '../../ui/src/logic/draft.js';
import { fieldId, formFields } from '../../ui/src/logic/form.js';
import { enclosingPaths, issuesOf, placeIssues } from '../../ui/src/logic/issues.js';
import { bootProgress, countLine, describeChange, knownOperationIds, restartPath, stateRows, statusFacts, textFailures } from '../../ui/src/logic/operations.js';
import { href, parseRoute } from '../../ui/src/logic/route.js';
import { exampleDocument, minimalDocument } from '../helpers/topology.js';

describe('the draft', () => {
  it('sets and removes by path without touching the original', () => {
    const doc = minimalDocument();
    const frozen = JSON.stringify(doc);
    const changed = setAt(doc, ['services', 1, 'env', 'TITLE'], 'hello');
    expect(getAt(changed, ['services', 1, 'env', 'TITLE'])).toBe('hello');
    expect(changed.services[0]).toBe(doc.services[0]); // untouched branches are shared
    const removed = removeAt(changed, ['services', 0]);
    expect(removed.services.map((s: any) => s.name)).toEqual(['web']);
    expect(removeAt(changed, ['services', 1, 'env', 'TITLE']).services[1].env).toEqual({});
    expect(JSON.stringify(doc)).toBe(frozen);
  });

  it('turns field text into what the schema judges: digits a number, anything else text', () => {
    expect(numberInput('8080')).toBe(8080);
    expect(numberInput(' 70000 ')).toBe(70000);
    expect(numberInput('')).toBeUndefined();
    expect(numberInput('80a')).toBe('80a');
    expect(listInput('a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(envRows({ A: 1, B: true })).toEqual([['A', '1'], ['B', 'true']]);
    expect(Object.keys(renameKey({ A: 1, B: 2, C: 3 }, 'B', 'X'))).toEqual(['A', 'X', 'C']);
    expect(freshKey({ NEW_VAR: '' }, 'NEW_VAR')).toBe('NEW_VAR_2');
    expect(freshName(['svc', 'svc-2'], 'svc')).toBe('svc-3');
    expect(sameDocument({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameDocument({ a: 1 }, { a: 2 })).toBe(false);
  });
});

describe('errors at their field', () => {
  it('an invalid port is shown at services[i].port, with the schema message the CLI prints', () => {
    const doc = setAt(exampleDocument(), ['services', 2, 'port'], numberInput('70000'));
    const result = validateTopology(doc);
    expect(result.ok).toBe(false);
    const issues = result.ok ? [] : result.issues;
    const placed = placeIssues(issues, formFields(doc));
    expect(placed.atField.get('services[2].port')).toContain('must be between 1 and 65535');
    expect(placed.unplaced).toEqual([]);
    const text = validateTopology(setAt(exampleDocument(), ['services', 2, 'port'], numberInput('80a')));
    expect(text.ok ? [] : placeIssues(text.issues, formFields(doc)).atField.get('services[2].port')).toEqual(['must be a number, got string "80a"']);
  });

  it('an unknown dependency and an inline secret land at their fields; what has no field goes to the summary', () => {
    let doc = setAt(exampleDocument(), ['services', 1, 'dependsOn'], ['kafak']);
    doc = setAt(doc, ['services', 0, 'env', 'DB_PASSWORD'], 'hunter2hunter2');
    const result = validateTopology(doc);
    const issues = result.ok ? [] : result.issues;
    const placed = placeIssues([...issues, { path: 'azure.location', message: 'x' }], formFields(doc));
    expect(placed.atField.get('services[1].dependsOn')?.join()).toMatch(/kafak/);
    expect(placed.atField.get('services[0].env.DB_PASSWORD')?.join()).toMatch(/secret/);
    expect(placed.unplaced).toEqual([{ path: 'azure.location', message: 'x' }]);
  });

  it('walks up to the nearest field the form shows, naming the part that is wrong', () => {
    expect(enclosingPaths('services[2].env.FOO')).toEqual(['services[2].env.FOO', 'services[2].env', 'services[2]', 'services']);
    const placed = placeIssues([{ path: 'services[0].health.interval', message: 'unrecognized key' }], new Set(['services[0]']));
    expect(placed.atField.get('services[0]')).toEqual(['health.interval: unrecognized key']);
  });

  it('reads the API\'s issues as objects (the desired-state routes) or "path: message" strings (POST /api/vms)', () => {
    expect(issuesOf({ issues: [{ path: 'services[1].port', message: 'must be a number' }] })).toEqual([{ path: 'services[1].port', message: 'must be a number' }]);
    expect(issuesOf({ issues: ['size: must be one of the allowed sizes', 'no path here'] })).toEqual([
      { path: 'size', message: 'must be one of the allowed sizes' },
      { path: '', message: 'no path here' },
    ]);
    expect(issuesOf({ error: 'x' })).toEqual([]);
  });

  it('ids of fields are safe DOM ids, one per path', () => {
    const fields = [...formFields(exampleDocument())];
    expect(new Set(fields.map(fieldId)).size).toBe(fields.length);
    for (const f of fields) expect(fieldId(f)).toMatch(/^f-[A-Za-z0-9_-]+$/);
  });
});

describe('operations', () => {
  it("shows a boot's custom status as one row per VM and service", () => {
    const progress = bootProgress({ phase: 'starting', vms: { running: ['vm-b'], provisioning: ['vm-a'] }, services: { running: ['kafka'], building: ['api', 'web'] } });
    expect(progress?.phase).toBe('starting');
    expect(stateRows(progress!.vms)).toEqual([{ name: 'vm-a', state: 'provisioning' }, { name: 'vm-b', state: 'running' }]);
    expect(countLine(progress!.services)).toBe('1 of 3 running');
    expect(bootProgress({ service: 'x', healthy: true })).toBeUndefined();
    expect(bootProgress(null)).toBeUndefined();
  });

  it("shows another operation's custom status as short facts, and its text failures", () => {
    expect(statusFacts({ phase: 'waiting', for: ['boot'], version: 3, nested: { x: 1 } })).toEqual([['phase', 'waiting'], ['for', 'boot'], ['version', '3']]);
    expect(statusFacts(null)).toEqual([]);
    expect(textFailures({ status: 'partial', failures: ['service "x": start failed'] })).toEqual(['service "x": start failed']);
    expect(textFailures({ failures: [{ target: 'vm-a' }] })).toEqual([]);
  });

  it('words the plan\'s changes', () => {
    expect(describeChange({ action: 'recreate', kind: 'service', name: 'dashboard', vm: 'vm-apps', reason: 'env TITLE changed' })).toBe('recreate service dashboard on vm-apps: env TITLE changed');
    expect(describeChange({ action: 'move', kind: 'service', name: 'api', from: 'vm-a', to: 'vm-b' })).toBe('move service api from vm-a to vm-b');
    expect(describeChange({ action: 'scale', kind: 'service', name: 'api', replicas: { from: 1, to: 3 } })).toBe('scale service api from 1 to 3 replicas');
    expect(describeChange({ action: 'start', kind: 'kafka', name: 'kafka', vm: 'vm-a' })).toBe('start Kafka on vm-a');
  });

  it('knows the fixed operation ids of a platform, and each kind\'s restart route', () => {
    const ids = knownOperationIds(['vm-a'], ['kafka', 'api'], ['custom-1']);
    expect(ids).toEqual(expect.arrayContaining(['boot', 'watchdog', 'reconcile', 'reconcile-vm-vm-a', 'custom-1', 'boot-vm-vm-a', 'provision-vm-vm-a', 'init-vm-vm-a', 'restart-vm-vm-a', 'restart-svc-api']));
    expect(ids).not.toContain('restart-svc-kafka');
    expect(restartPath('app', 'dashboard')).toBe('apps/dashboard/restart');
    expect(restartPath('model', 'm')).toBe('models/m/restart');
    expect(restartPath('broker', 'kafka')).toBeUndefined();
  });
});

describe('routes', () => {
  it('round-trips every page through the hash', () => {
    for (const r of [{ page: 'overview' }, { page: 'service', name: 'dashboard' }, { page: 'operations' }, { page: 'operation', id: 'restart-svc-a' }, { page: 'editor' }, { page: 'provision' }] as const) {
      expect(parseRoute(href(r))).toEqual(r);
    }
    expect(parseRoute('#/nowhere')).toEqual({ page: 'overview' });
    expect(parseRoute('#/services/%zz')).toEqual({ page: 'service', name: '%zz' });
  });
});
