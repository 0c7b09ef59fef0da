/** Small valid topologies for tests, as plain documents (what YAML parses into). */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const EXAMPLE_TOPOLOGY = new URL('../../examples/iot-platform/topology.yaml', import.meta.url).pathname;

export function exampleDocument(): any {
  return parse(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));
}

export function minimalDocument(): any {
  return {
    name: 'demo',
    azure: {
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      resourceGroup: 'demo-rg',
      location: 'westeurope',
      storage: { account: 'democode', share: 'code' },
      cosmos: { account: 'demo-cosmos' },
    },
    vms: [{ name: 'vm-a', size: 'Standard_B2s', sshKeySecret: 'VM_KEY' }],
    kafka: { vm: 'vm-a', topics: [{ name: 'events' }] },
    services: [
      { name: 'api', kind: 'microservice', vm: 'vm-a', port: 8000, source: 'api' },
      { name: 'web', kind: 'app', vm: 'vm-a', port: 8080, source: 'web', dependsOn: ['api'] },
    ],
  };
}

/**
 * The example cut to what most end-to-end tests need: three VMs, a dependency chain that crosses
 * VMs (authentication -> request-manager on vm-core -> deployment-manager on vm-apps) and the
 * monitoring service on vm-ops, without Kafka (a JVM per platform) or the services that use it.
 * Tests of Kafka and of the whole example's flow keep the full example.
 */
export const COMPACT_SERVICES = ['authentication', 'request-manager', 'deployment-manager', 'monitoring'] as const;

export function compactDocument(): any {
  const doc = exampleDocument();
  delete doc.kafka;
  doc.vms = doc.vms.filter((v: any) => ['vm-core', 'vm-apps', 'vm-ops'].includes(v.name));
  doc.services = doc.services.filter((s: any) => (COMPACT_SERVICES as readonly string[]).includes(s.name));
  return doc;
}
