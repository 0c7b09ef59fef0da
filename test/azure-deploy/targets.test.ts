/** --subscription / --resource-group / --location move the VMs' target along with the infrastructure. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deploymentTopology } from '../../bootstrap-cli/azure/deploy.js';
import { infraNames } from '../../bootstrap-cli/azure/infra.js';
import { loadTopology } from '../../functions/platform/load.js';
import { EXAMPLE_TOPOLOGY } from '../helpers/topology.js';

describe('deploy overrides', () => {
  const topology = loadTopology(readFileSync(EXAMPLE_TOPOLOGY, 'utf8'));

  it('the seeded topology targets the overridden subscription, resource group and region', () => {
    const names = infraNames(topology, { subscription: '11111111-2222-3333-4444-555555555555', resourceGroup: 'other-rg', location: 'northeurope' });
    const seeded = deploymentTopology(topology, names);
    expect(seeded.azure).toMatchObject({ subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'other-rg', location: 'northeurope' });
    // Everything else is the operator's topology, unchanged.
    expect(seeded.vms).toEqual(topology.vms);
    expect(seeded.azure.storage).toEqual(topology.azure.storage);
    expect(topology.azure.resourceGroup).not.toBe('other-rg');
  });

  it('without overrides the target is the topology\'s own', () => {
    expect(deploymentTopology(topology, infraNames(topology)).azure).toEqual(topology.azure);
  });
});
