/**
 * The naming rules ARM and its providers apply when a resource is created (learn.microsoft.com
 * "Naming rules and restrictions for Azure resources"; the resource group pattern is common-types'
 * ResourceGroupNameParameter, `^[-\w\._\(\)]+$`, 1-90). A PUT with a name Azure refuses is answered
 * 400 with the provider's code and nothing is created; reads of such names are left to 404.
 */
import { ArmError } from './errors.js';
import type { ParsedPath } from './ids.js';

const RESOURCE_GROUP = /^[-\w._()\p{L}]{1,90}$/u;

/** Network resources: begin with a word character, end with one or '_', contain word characters, '.', '-', '_'. */
const NETWORK_NAME = /^[A-Za-z0-9](?:[\w.-]*\w)?$/;
const NETWORK_MAX: Record<string, number> = { virtualnetworks: 64, subnets: 80, networkinterfaces: 80, networksecuritygroups: 80, publicipaddresses: 80, securityrules: 80 };
const NETWORK_MIN: Record<string, number> = { virtualnetworks: 2 };

/** Linux VMs: 1-64, no whitespace nor \/"[]:|<>+=;,?*@&, not starting with '_', not ending with '.' or '-'. */
const VM_FORBIDDEN = /[\s\\/"[\]:|<>+=;,?*@&~!#$%^'(){}`]/;

export function checkNames(parsed: ParsedPath, method: string): void {
  if (method !== 'PUT') return;
  if (parsed.route === 'resourceGroup') {
    const rg = parsed.rg;
    if (!RESOURCE_GROUP.test(rg) || rg.endsWith('.')) {
      throw new ArmError(
        400,
        'InvalidResourceGroup',
        `The provided resource group name '${rg}' is invalid. It can be 1 to 90 characters: letters, digits, '-', '.', '(', ')' or '_', and cannot end with a period.`,
      );
    }
    return;
  }
  if (parsed.route !== 'resource') return;
  const ref = parsed.ref;
  const ns = ref.namespace.toLowerCase();
  if (ns === 'microsoft.network') {
    checkNetworkName(ref.type, ref.name);
    if (ref.childType && ref.childName !== undefined) checkNetworkName(ref.childType, ref.childName);
  } else if (ns === 'microsoft.compute' && ref.type === 'virtualmachines' && !ref.action) {
    const name = ref.name;
    if (name.length > 64 || VM_FORBIDDEN.test(name) || name.startsWith('_') || /[.-]$/.test(name)) {
      throw new ArmError(
        400,
        'InvalidParameter',
        `The entity name 'vmName' is invalid: '${name}' must be 1 to 64 characters, without whitespace or special characters, not start with '_' and not end with '.' or '-'.`,
        'vmName',
      );
    }
  }
}

function checkNetworkName(type: string, name: string): void {
  const max = NETWORK_MAX[type] ?? 80;
  const min = NETWORK_MIN[type] ?? 1;
  if (name.length < min || name.length > max || !NETWORK_NAME.test(name)) {
    throw new ArmError(
      400,
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to ${max} characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    );
  }
}
