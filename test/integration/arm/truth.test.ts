/**
 * The ARM emulator refuses what ARM refuses: unknown or malformed api-versions, reserved admin
 * names, SSH keys Azure does not take; and it says what is left of the subscription's budget.
 */
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCATION, publicKeyLine, startHarness, SUBSCRIPTION, type Harness } from './harness.js';

const RG = 'rg-truth';

describe('the ARM emulator tells the truth', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await h.adapter.ensureResourceGroup({ resourceGroup: RG, location: LOCATION });
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function raw(method: 'GET' | 'PUT', path: string, apiVersion: string, body?: unknown, on: Harness = h) {
    const request = createPipelineRequest({
      url: `${on.arm.endpoint}${path}?api-version=${apiVersion}`,
      method,
      headers: createHttpHeaders({ 'content-type': 'application/json' }),
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const response = await on.clients.network.sendRequest(request);
    return { status: response.status, headers: response.headers.toJSON(), body: response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined };
  }

  const vmPath = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`;

  function vmBody(adminUsername: string, keyData: string) {
    return {
      location: LOCATION,
      properties: {
        hardwareProfile: { vmSize: 'Standard_B2s' },
        storageProfile: { imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' }, osDisk: { createOption: 'FromImage' } },
        osProfile: {
          computerName: 'vm-x',
          adminUsername,
          linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: `/home/${adminUsername}/.ssh/authorized_keys`, keyData }] } },
        },
        networkProfile: { networkInterfaces: [] },
      },
    };
  }

  it('an api-version the provider does not have: 400 NoRegisteredProviderFound listing the supported ones', async () => {
    const r = await raw('GET', vmPath('vm-x'), '2099-01-01');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NoRegisteredProviderFound');
    expect(r.body.error.message).toMatch(/API version '2099-01-01' for type 'virtualMachines'\. The supported api-versions are '.*2026-03-01/);
  });

  it('a malformed api-version: 400 InvalidApiVersionParameter', async () => {
    const r = await raw('GET', vmPath('vm-x'), 'latest');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('InvalidApiVersionParameter');
  });

  it('a reserved admin user name: 400 InvalidParameter on adminUsername, nothing created', async () => {
    const r = await raw('PUT', vmPath('vm-admin'), '2026-03-01', vmBody('admin', publicKeyLine()));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'InvalidParameter', message: 'The Admin Username specified is not allowed.', target: 'adminUsername' });
    expect(h.arm.getVm(RG, 'vm-admin')).toBeUndefined();
  });

  it('an ECDSA key or a 1024-bit RSA key: 400 InvalidParameter on keyData', async () => {
    for (const pair of [ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }), ssh2.utils.generateKeyPairSync('rsa', { bits: 1024 })]) {
      const r = await raw('PUT', vmPath('vm-key'), '2026-03-01', vmBody('azureuser', pair.public.trim()));
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'InvalidParameter', target: 'linuxConfiguration.ssh.publicKeys.keyData' });
    }
    expect(h.arm.getVm(RG, 'vm-key')).toBeUndefined();
  });

  it('every response says what is left of the subscription budget', async () => {
    // An emulator of its own whose budget barely refills: on a busy machine the pause between the
    // two reads would otherwise put the spent token back.
    const slow = await startHarness({ rateLimit: { readsPerSecond: 0.001 } });
    try {
      const path = `/subscriptions/${SUBSCRIPTION}/resourcegroups/${RG}`;
      const first = await raw('GET', path, '2021-04-01', undefined, slow);
      const second = await raw('GET', path, '2021-04-01', undefined, slow);
      const left = (r: { headers: Record<string, string> }) => Number(r.headers['x-ms-ratelimit-remaining-subscription-reads']);
      expect(left(first)).toBeGreaterThan(0);
      expect(left(second)).toBe(left(first) - 1);
    } finally {
      await slow.stop();
    }
  });
});
