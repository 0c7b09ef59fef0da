/**
 * A local VM's network security groups as iptables rules in its network namespace, so traffic an
 * NSG refuses is refused, as in Azure. Inbound traffic on eth0 passes the mangle table's LCM-NSG
 * chain before anything else (before Docker's port forwarding rewrites the port: Azure matches the
 * port the client connected to): replies to the VM's own connections pass (NSGs are stateful), then
 * the subnet's NSG, then the NIC's. In each, rules by priority (Allow ends that NSG's evaluation,
 * Deny drops), then Azure's defaults: AllowVnetInBound, AllowAzureLoadBalancerInBound,
 * DenyAllInBound. A layer without an NSG lets everything through. Outbound is not filtered (Azure's
 * default outbound rules allow it). Rules are replaced atomically (iptables-restore).
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { InboundRules, NsgRule } from '../types.js';

const exec = promisify(execFile);

/** Azure's probe address, the AzureLoadBalancer service tag. */
export const AZURE_LOAD_BALANCER = '168.63.129.16/32';

export interface NsgContext {
  /** The VirtualNetwork service tag here: the VNet's address ranges (the fleet's private subnet). */
  vnet: string[];
  /** The VM's own private address (a destination prefix naming it matches its traffic). */
  privateIp: string;
}

const CHAIN = 'LCM-NSG';
const LAYERS = ['subnet', 'nic'] as const;
const layerChain = (layer: (typeof LAYERS)[number]) => `${CHAIN}-${layer.toUpperCase()}`;

/** Source matches for a prefix: each a list of iptables arguments; [] = never matches here. */
function sourceMatches(prefix: string, ctx: NsgContext): string[][] {
  const p = prefix.trim();
  if (p === '*' || /^any$/i.test(p) || p === '0.0.0.0/0') return [[]];
  if (/^virtualnetwork$/i.test(p)) return ctx.vnet.map((v) => ['-s', v]);
  if (/^azureloadbalancer$/i.test(p)) return [['-s', AZURE_LOAD_BALANCER]];
  // Internet: what is outside the VNet (every VNet range excluded).
  if (/^internet$/i.test(p)) {
    if (ctx.vnet.length !== 1) throw new Error(`the Internet service tag needs exactly one VNet range here, got ${ctx.vnet.length}`);
    return [['!', '-s', ctx.vnet[0]!]];
  }
  if (/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(p)) return [['-s', p]];
  // Another service tag (Storage, AzureCloud...): no local address belongs to it.
  return [];
}

function inPrefix(ip: string, cidr: string): boolean {
  const [base, bits = '32'] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base!) / size);
}

/** Whether a destination prefix covers this VM (all traffic seen here is to the VM). */
function destinationCovers(prefix: string, ctx: NsgContext): boolean {
  const p = prefix.trim();
  if (p === '*' || /^any$/i.test(p) || /^virtualnetwork$/i.test(p)) return true;
  if (/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(p)) return inPrefix(ctx.privateIp, p.includes('/') ? p : `${p}/32`);
  return false;
}

/** Protocol and port matches: a port on '*' means TCP and UDP. */
function protocolMatches(rule: NsgRule): string[][] {
  const proto = rule.protocol.toLowerCase();
  const ports = rule.destinationPortRanges.map((r) => r.trim());
  const anyPort = ports.some((r) => r === '*');
  const protos = proto === '*' || proto === 'any' ? (anyPort ? [''] : ['tcp', 'udp']) : [proto];
  const out: string[][] = [];
  for (const pr of protos) {
    const base = pr ? ['-p', pr] : [];
    if (anyPort || !['tcp', 'udp'].includes(pr)) out.push(base);
    else for (const r of ports) out.push([...base, '--dport', r.replace('-', ':')]);
  }
  return out;
}

/** The rules of one NSG as iptables `-A` lines of its chain. */
function layerLines(chain: string, rules: NsgRule[], ctx: NsgContext): string[] {
  const lines: string[] = [];
  for (const rule of [...rules].sort((a, b) => a.priority - b.priority)) {
    if (!rule.destinationAddressPrefixes.some((d) => destinationCovers(d, ctx))) continue;
    const target = rule.access === 'Allow' ? 'RETURN' : 'DROP';
    const comment = ['-m', 'comment', '--comment', `"${`${rule.priority} ${rule.name}`.replace(/[^A-Za-z0-9_.\- ]/g, '_').slice(0, 250)}"`];
    for (const src of rule.sourceAddressPrefixes.flatMap((s) => sourceMatches(s, ctx))) {
      for (const proto of protocolMatches(rule)) lines.push(['-A', chain, ...src, ...proto, ...comment, '-j', target].join(' '));
    }
  }
  for (const v of ctx.vnet) lines.push(`-A ${chain} -s ${v} -m comment --comment "65000 AllowVnetInBound" -j RETURN`);
  lines.push(`-A ${chain} -s ${AZURE_LOAD_BALANCER} -m comment --comment "65001 AllowAzureLoadBalancerInBound" -j RETURN`);
  lines.push(`-A ${chain} -m comment --comment "65500 DenyAllInBound" -j DROP`);
  return lines;
}

/** The iptables-restore input (mangle table, --noflush) that puts `rules` in force. */
export function nsgRestoreScript(rules: InboundRules, ctx: NsgContext): string {
  const chains = [CHAIN, ...LAYERS.map(layerChain)];
  const lines = ['*mangle', ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-F ${c}`)];
  lines.push(`-A ${CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN`);
  for (const layer of LAYERS) {
    const layerRules = rules[layer];
    if (!layerRules) continue;
    lines.push(`-A ${CHAIN} -j ${layerChain(layer)}`);
    lines.push(...layerLines(layerChain(layer), layerRules, ctx));
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function run(cmd: string, args: string[], stdin?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += String(d)));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
    p.stdin.end(stdin ?? '');
  });
}

/** Puts the VM's NSG rules in force in its namespace (atomically replacing the previous ones). */
export async function applyNsg(netns: string, rules: InboundRules, ctx: NsgContext): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'iptables-restore', '-w', '30', '--noflush'], nsgRestoreScript(rules, ctx));
  const iptables = (...args: string[]) => exec('ip', ['netns', 'exec', netns, 'iptables', '-w', '30', '-t', 'mangle', ...args]);
  const present = await iptables('-C', 'PREROUTING', '-i', 'eth0', '-j', CHAIN).then(() => true, () => false);
  if (!present) await iptables('-I', 'PREROUTING', '1', '-i', 'eth0', '-j', CHAIN);
}
