/**
 * A generated platform for the boot benchmark: N VMs, S services spread evenly over them, a seeded
 * random dependency DAG of a chosen depth, Kafka on the first VM and one monitoring service. Every
 * service runs the same tiny HTTP server (one code folder), each on its own port; the topology is
 * validated like an operator's (functions/platform/validate.ts).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertTopology } from '../functions/platform/validate.js';
import type { ServiceKind, Topology } from '../functions/platform/topology.js';

export interface GenerateOptions {
  vms: number;
  /** Total services, the monitoring service included. */
  services: number;
  /** Dependency depth of the non-monitoring services (service levels), e.g. 6. */
  depth: number;
  seed: number;
  /** Code folder every service uses. */
  source?: string;
}

/** mulberry32: small, fast, seeded; enough for reproducible shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function generateTopology(options: GenerateOptions): Topology {
  const { vms, services, depth, seed } = options;
  const source = options.source ?? 'bench-svc';
  if (services < depth + 1) throw new Error(`generateTopology: ${services} services cannot form ${depth} levels plus a monitoring service`);
  const rand = seededRandom(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)]!;

  const vmNames = Array.from({ length: vms }, (_, i) => `vm-${pad(i, 2)}`);
  const regular = services - 1;
  const names = Array.from({ length: regular }, (_, i) => `svc-${pad(i + 1, 3)}`);

  // Layers 0..depth-1: the first `depth` services seed one layer each (so the depth is exact), the
  // rest land in random layers. A service of layer L > 0 depends on one service of layer L-1 (its
  // level is then exactly L) and maybe on one or two services of lower layers.
  const layerOf = names.map((_, i) => (i < depth ? i : Math.floor(rand() * depth)));
  const byLayer: string[][] = Array.from({ length: depth }, () => []);
  names.forEach((n, i) => byLayer[layerOf[i]!]!.push(n));

  // Even placement: shuffle everything (monitoring included), then deal 1 per VM per round.
  const monitoring = `svc-${pad(services, 3)}`;
  const all = [...names, monitoring];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const placement = new Map<string, { vm: string; port: number }>();
  all.forEach((n, i) => placement.set(n, { vm: vmNames[i % vms]!, port: 8001 + Math.floor(i / vms) }));

  const kinds: ServiceKind[] = ['microservice', 'microservice', 'app', 'model'];
  const doc = {
    name: 'bench-platform',
    azure: {
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      resourceGroup: 'bench-rg',
      location: 'westeurope',
      storage: { account: 'benchcode', share: 'bench-code' },
      cosmos: { account: 'bench-cosmos' },
    },
    vms: vmNames.map((name) => ({ name, size: 'Standard_B2s', sshKeySecret: 'VM_SSH_PRIVATE_KEY' })),
    kafka: { vm: vmNames[0]!, port: 9092, source: 'kafka', topics: [{ name: 'events', partitions: 3 }] },
    services: [
      ...names.map((name, i) => {
        const layer = layerOf[i]!;
        const deps = new Set<string>();
        if (layer > 0) {
          deps.add(pick(byLayer[layer - 1]!));
          const extra = Math.floor(rand() * 3);
          for (let k = 0; k < extra; k++) deps.add(pick(byLayer[Math.floor(rand() * layer)]!));
        }
        const at = placement.get(name)!;
        return { name, kind: pick(kinds), vm: at.vm, port: at.port, source, dependsOn: [...deps] };
      }),
      { name: monitoring, kind: 'microservice', role: 'monitoring', vm: placement.get(monitoring)!.vm, port: placement.get(monitoring)!.port, source },
    ],
  };
  return assertTopology(doc, 'generated bench topology');
}

/**
 * A code root for the generated platform: `<dir>/bench-svc` (the example sensor-manager: an HTTP
 * server on $HOST:$PORT with /health) and `<dir>/kafka`. Returns the directory and its remover.
 */
export function benchCodeRoot(source = 'bench-svc'): { dir: string; remove(): void } {
  const examples = new URL('../examples/iot-platform/services/', import.meta.url).pathname;
  const dir = mkdtempSync(path.join(tmpdir(), 'lcm-bench-code-'));
  cpSync(path.join(examples, 'sensor-manager'), path.join(dir, source), { recursive: true });
  cpSync(path.join(examples, 'kafka'), path.join(dir, 'kafka'), { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
