import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planTopology, type Plan } from '../../functions/platform/plan.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { exampleDocument, minimalDocument } from '../helpers/topology.js';

/** The plan's invariants: what every start order must satisfy. */
function checkPlan(plan: Plan, hasKafka: boolean): void {
  const levelOf = new Map<string, number>();
  plan.levels.forEach((names, l) => names.forEach((n) => levelOf.set(n, l)));
  const all = plan.levels.flat();
  expect(new Set(all).size).toBe(all.length);
  expect(all.length).toBe(plan.services.length + (hasKafka ? 1 : 0));
  if (hasKafka) expect(plan.levels[0]).toContain('kafka');
  for (const s of plan.services) {
    expect(levelOf.get(s.name)).toBe(s.level);
    for (const d of s.dependsOn) expect(levelOf.get(d)!).toBeLessThan(s.level);
    if (hasKafka) expect(s.dependsOn).toContain('kafka');
  }
  const monitoring = plan.services.find((s) => s.monitoring);
  if (monitoring) {
    for (const s of plan.services) if (s !== monitoring) expect(s.level).toBeLessThan(monitoring.level);
    expect(plan.levels.at(-1)).toEqual([monitoring.name]);
  }
  for (const l of plan.levels) expect(l.length).toBeGreaterThan(0);
  for (const [vm, steps] of Object.entries(plan.byVm)) {
    const levels = steps.map((s) => levelOf.get(s)!);
    expect([...levels].sort((a, b) => a - b)).toEqual(levels);
    for (const step of steps) {
      const svc = plan.services.find((s) => s.name === step);
      expect(svc ? svc.vm : plan.kafka!.vm).toBe(vm);
    }
  }
}

describe('the plan', () => {
  it('orders the example platform: kafka first, each service after its dependencies, monitoring last', () => {
    const plan = planTopology(assertTopology(exampleDocument()));
    checkPlan(plan, true);
    expect(plan.levels[0]).toEqual(['kafka']);
    expect(plan.levels[1]).toEqual(['authentication']);
    expect(plan.levels.at(-1)).toEqual(['monitoring']);
    expect(plan.byVm['vm-core']).toEqual(['kafka', 'authentication', 'request-manager']);
  });

  it('lets independent services on different VMs share a level', () => {
    const plan = planTopology(assertTopology(exampleDocument()));
    const level2 = plan.levels[2]!;
    expect(level2).toEqual(expect.arrayContaining(['request-manager', 'sensor-manager']));
  });

  it('starts at level 0 when there is no kafka', () => {
    const doc = minimalDocument();
    delete doc.kafka;
    const plan = planTopology(assertTopology(doc));
    checkPlan(plan, false);
    expect(plan.levels).toEqual([['api'], ['web']]);
  });

  it('holds its invariants on random dependency graphs', () => {
    const graph = fc
      .integer({ min: 1, max: 25 })
      .chain((n) =>
        fc.record({
          n: fc.constant(n),
          vms: fc.integer({ min: 1, max: 5 }),
          // Each service may depend only on earlier ones: a DAG by construction.
          deps: fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
          placement: fc.array(fc.nat(), { minLength: n, maxLength: n }),
          monitoring: fc.option(fc.nat(), { nil: undefined }),
          kafka: fc.boolean(),
        }),
      );
    fc.assert(
      fc.property(graph, ({ n, vms, deps, placement, monitoring, kafka }) => {
        const doc = minimalDocument();
        doc.vms = Array.from({ length: vms }, (_, i) => ({ name: `vm-${i}`, size: 'Standard_B2s', sshKeySecret: 'K' }));
        const mon = monitoring === undefined ? -1 : monitoring % n;
        doc.services = Array.from({ length: n }, (_, i) => ({
          name: `svc-${i}`,
          kind: 'microservice',
          vm: `vm-${placement[i]! % vms}`,
          port: 8000 + i,
          source: `svc-${i}`,
          dependsOn: i === 0 ? [] : [...new Set(deps[i]!.map((d) => d % i))].filter((d) => d !== mon).map((d) => `svc-${d}`),
          ...(i === mon ? { role: 'monitoring' } : {}),
        }));
        if (kafka) doc.kafka = { vm: 'vm-0' };
        else delete doc.kafka;
        checkPlan(planTopology(assertTopology(doc)), kafka);
      }),
      { numRuns: 200 },
    );
  });
});
