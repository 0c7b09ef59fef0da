/** An NSG as the iptables rules a local VM enforces: Azure's order, its defaults, its service tags. */
import { describe, expect, it } from 'vitest';
import type { NsgRule } from '../../local/azure/types.js';
import { nsgRestoreScript } from '../../local/azure/vm/nsg.js';

const ctx = { vnet: ['10.1.2.0/24'], privateIp: '10.1.2.4' };
const rule = (r: Partial<NsgRule> & Pick<NsgRule, 'name' | 'priority'>): NsgRule => ({
  access: 'Allow',
  protocol: 'Tcp',
  sourceAddressPrefixes: ['*'],
  destinationAddressPrefixes: ['*'],
  destinationPortRanges: ['*'],
  ...r,
});
const chain = (script: string, name: string) => script.split('\n').filter((l) => l.startsWith(`-A ${name} `));

describe('NSG rules as iptables', () => {
  it('evaluates rules by priority, then AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound', () => {
    const script = nsgRestoreScript(
      {
        nic: [
          rule({ name: 'late', priority: 2000, access: 'Deny', sourceAddressPrefixes: ['VirtualNetwork'], destinationPortRanges: ['22'] }),
          rule({ name: 'early', priority: 100, sourceAddressPrefixes: ['203.0.113.0/24'], destinationPortRanges: ['22', '8000-8010'] }),
        ],
      },
      ctx,
    );
    expect(chain(script, 'LCM-NSG-NIC')).toEqual([
      '-A LCM-NSG-NIC -s 203.0.113.0/24 -p tcp --dport 22 -m comment --comment "100 early" -j RETURN',
      '-A LCM-NSG-NIC -s 203.0.113.0/24 -p tcp --dport 8000:8010 -m comment --comment "100 early" -j RETURN',
      '-A LCM-NSG-NIC -s 10.1.2.0/24 -p tcp --dport 22 -m comment --comment "2000 late" -j DROP',
      '-A LCM-NSG-NIC -s 10.1.2.0/24 -m comment --comment "65000 AllowVnetInBound" -j RETURN',
      '-A LCM-NSG-NIC -s 168.63.129.16/32 -m comment --comment "65001 AllowAzureLoadBalancerInBound" -j RETURN',
      '-A LCM-NSG-NIC -m comment --comment "65500 DenyAllInBound" -j DROP',
    ]);
    // Replies to the VM's own connections pass first (NSGs are stateful); no subnet NSG, no subnet layer.
    expect(chain(script, 'LCM-NSG')).toEqual(['-A LCM-NSG -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN', '-A LCM-NSG -j LCM-NSG-NIC']);
    expect(chain(script, 'LCM-NSG-SUBNET')).toEqual([]);
  });

  it('checks the subnet NSG before the NIC NSG, and none at all lets everything in', () => {
    const both = nsgRestoreScript({ subnet: [], nic: [] }, ctx);
    expect(chain(both, 'LCM-NSG').slice(1)).toEqual(['-A LCM-NSG -j LCM-NSG-SUBNET', '-A LCM-NSG -j LCM-NSG-NIC']);
    expect(chain(nsgRestoreScript({}, ctx), 'LCM-NSG')).toEqual(['-A LCM-NSG -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN']);
  });

  it('maps tags, any-protocol ports and destinations as Azure means them', () => {
    const script = nsgRestoreScript(
      {
        nic: [
          rule({ name: 'web', priority: 100, protocol: '*', sourceAddressPrefixes: ['Internet'], destinationPortRanges: ['80'] }),
          rule({ name: 'lb', priority: 110, protocol: '*', sourceAddressPrefixes: ['AzureLoadBalancer'] }),
          rule({ name: 'storage', priority: 120, sourceAddressPrefixes: ['Storage'] }),
          rule({ name: 'elsewhere', priority: 130, destinationAddressPrefixes: ['10.9.0.0/16'] }),
          rule({ name: 'me', priority: 140, destinationAddressPrefixes: ['10.1.2.4'], destinationPortRanges: ['443'] }),
        ],
      },
      ctx,
    );
    const lines = chain(script, 'LCM-NSG-NIC');
    expect(lines.slice(0, 4)).toEqual([
      '-A LCM-NSG-NIC ! -s 10.1.2.0/24 -p tcp --dport 80 -m comment --comment "100 web" -j RETURN',
      '-A LCM-NSG-NIC ! -s 10.1.2.0/24 -p udp --dport 80 -m comment --comment "100 web" -j RETURN',
      '-A LCM-NSG-NIC -s 168.63.129.16/32 -m comment --comment "110 lb" -j RETURN',
      '-A LCM-NSG-NIC -p tcp --dport 443 -m comment --comment "140 me" -j RETURN',
    ]);
    // A service tag no local address belongs to, and a destination that is not this VM, match nothing.
    expect(lines.some((l) => /storage|elsewhere/.test(l))).toBe(false);
  });
});
