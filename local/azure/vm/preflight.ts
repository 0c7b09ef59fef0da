/**
 * What the local VMs need from this machine, checked before anything starts, so `npm start` on a
 * machine without it stops at once naming what is missing and how to get it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export class HostSupportError extends Error {
  constructor(readonly missing: string[], fix: string) {
    super(`the local VMs cannot run on this machine: ${missing.join('; ')}. ${fix}`);
    this.name = 'HostSupportError';
  }
}

/** Commands and the Debian package that ships each. */
const TOOLS: Array<[command: string, pkg: string]> = [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['sshd', 'openssh-server'],
  ['ssh-keygen', 'openssh-client'],
  ['dockerd', 'docker.io'],
  ['docker', 'docker.io'],
  ['docker-init', 'docker.io'],
  ['docker-registry', 'docker-registry'],
  ['sudo', 'sudo'],
  ['setpriv', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['unshare', 'util-linux'],
  ['debootstrap', 'debootstrap'],
  ['tar', 'tar'],
  ['curl', 'curl'],
];

const DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

let checked: Promise<void> | undefined;

export function checkHostSupport(): Promise<void> {
  checked ??= check();
  return checked;
}

async function check(): Promise<void> {
  const missing: string[] = [];
  if (process.platform !== 'linux') throw new HostSupportError([`this is ${process.platform}, not Linux`], 'Run it on a Linux machine (Debian 12 is what the project is tested on).');
  if (process.getuid?.() !== 0) {
    throw new HostSupportError(['not running as root (network namespaces, mounts and Docker engines need it)'], 'Run it as root, e.g. `sudo npm start`, or in a root container with --privileged.');
  }
  const pkgs = new Set<string>();
  for (const [cmd, pkg] of TOOLS) {
    if (!DIRS.some((d) => existsSync(`${d}/${cmd}`))) {
      missing.push(`\`${cmd}\` not found`);
      pkgs.add(pkg);
    }
  }
  if (pkgs.size === 0) {
    try {
      await exec('ip', ['netns', 'list']);
    } catch (e) {
      missing.push(`network namespaces are not available (ip netns: ${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (missing.length > 0) {
    const fix = pkgs.size > 0 ? `Install with: apt-get update && apt-get install -y ${[...pkgs].join(' ')} (or run \`npm run setup\`).` : 'Run on a Linux kernel with network namespaces, as root.';
    throw new HostSupportError(missing, fix);
  }
}
