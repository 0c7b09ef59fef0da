/**
 * Which network security rules are in force on a VM, from what the emulator stores: the NSG of the
 * subnet its primary NIC is in, then the NSG of that NIC (Azure evaluates inbound traffic in that
 * order). The fleet enforces them (local/azure/vm/nsg.ts); `syncInboundRules` tells it when they
 * change.
 */
import type { InboundRules, NsgRule } from '../types.js';
import { asArray, asObject, asString, type ArmState, type JsonObject, type VmRecord } from './state.js';

function primaryNic(state: ArmState, vm: VmRecord) {
  const refs = asArray(asObject(vm.properties['networkProfile'])?.['networkInterfaces']).map((r) => asObject(r)!);
  const primary = refs.find((r) => asObject(r['properties'])?.['primary'] === true || r['primary'] === true) ?? refs[0];
  return primary ? state.resourceById(primary['id']) : undefined;
}

function subnetOf(state: ArmState, subnetId: unknown): JsonObject | undefined {
  if (typeof subnetId !== 'string') return undefined;
  const vnet = state.resourceById(subnetId.replace(/\/subnets\/[^/]+$/i, ''));
  return asArray(vnet?.properties['subnets'])
    .map((s) => asObject(s)!)
    .find((s) => asString(s['id'])?.toLowerCase() === subnetId.toLowerCase());
}

const list = (one: unknown, many: unknown): string[] => {
  const all = [...asArray(many), ...(one === undefined ? [] : [one])].filter((v): v is string => typeof v === 'string' && v !== '');
  return all.length ? all : ['*'];
};

/** The inbound rules of the NSG `nsgId`, or undefined when there is none. */
function inboundRulesOf(state: ArmState, nsgId: unknown): NsgRule[] | undefined {
  const nsg = state.resourceById(nsgId);
  if (!nsg) return undefined;
  return asArray(nsg.properties['securityRules'])
    .map((raw) => asObject(raw)!)
    .map((rule) => ({ name: asString(rule['name']) ?? '', p: asObject(rule['properties']) ?? {} }))
    .filter(({ p }) => String(p['direction']).toLowerCase() === 'inbound')
    .map(({ name, p }) => ({
      name,
      priority: Number(p['priority']),
      access: String(p['access']).toLowerCase() === 'allow' ? ('Allow' as const) : ('Deny' as const),
      protocol: asString(p['protocol']) ?? '*',
      sourceAddressPrefixes: list(p['sourceAddressPrefix'], p['sourceAddressPrefixes']),
      destinationAddressPrefixes: list(p['destinationAddressPrefix'], p['destinationAddressPrefixes']),
      destinationPortRanges: list(p['destinationPortRange'], p['destinationPortRanges']),
    }));
}

export function effectiveInboundRules(state: ArmState, vm: VmRecord): InboundRules {
  const nic = primaryNic(state, vm);
  if (!nic) return {};
  const config = asArray(nic.properties['ipConfigurations']).map((c) => asObject(c)!).find((c) => asObject(c['properties'])?.['primary'] === true) ?? asObject(asArray(nic.properties['ipConfigurations'])[0]);
  const subnet = subnetOf(state, asObject(asObject(config?.['properties'])?.['subnet'])?.['id']);
  const subnetRules = inboundRulesOf(state, asObject(asObject(subnet?.['properties'])?.['networkSecurityGroup'])?.['id']);
  const nicRules = inboundRulesOf(state, asObject(nic.properties['networkSecurityGroup'])?.['id']);
  return { ...(subnetRules ? { subnet: subnetRules } : {}), ...(nicRules ? { nic: nicRules } : {}) };
}

const applied = new WeakMap<ArmState, Map<string, string>>();

/** Hands the fleet each running VM's rules that changed since they were last handed over. */
export async function syncInboundRules(state: ArmState, options: { force?: string } = {}): Promise<void> {
  const apply = state.hooks.applyInboundRules?.bind(state.hooks);
  if (!apply) return;
  const seen = applied.get(state) ?? new Map<string, string>();
  applied.set(state, seen);
  for (const vm of state.vms.values()) {
    if (vm.power !== 'running' && vm.power !== 'starting') continue;
    const rules = effectiveInboundRules(state, vm);
    const key = JSON.stringify(rules);
    if (seen.get(vm.name) === key && options.force !== vm.name) continue;
    seen.set(vm.name, key);
    await apply(vm.name, rules).catch(() => seen.delete(vm.name));
  }
}

/** A VM powering on gets its rules with the power-on call: remember them as handed over. */
export function rulesForPowerOn(state: ArmState, vm: VmRecord): InboundRules {
  const rules = effectiveInboundRules(state, vm);
  const seen = applied.get(state) ?? new Map<string, string>();
  applied.set(state, seen);
  seen.set(vm.name, JSON.stringify(rules));
  return rules;
}
