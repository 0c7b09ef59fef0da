/**
 * The layout of a VM's sandbox and the stand-ins in its `bin`: `sudo`, `apt-get`/`apt`,
 * `systemctl`/`service`, `usermod`/`groupadd`. Scripts the LCM sends call tools by name, so on an
 * emulated VM these run instead of the real machine's tools (which would change the test machine).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dockerClientScript } from './docker-client-script.js';

export interface SandboxLayout {
  root: string;
  home: string;
  bin: string;
  /** Where the docker CLI stand-in waits until `apt-get install docker.io` puts it in bin. */
  dockerClient: string;
  hostKeyFile: string;
  dockerState: string;
}

export function sandboxLayout(rootDir: string, vm: string, adminUser: string): SandboxLayout {
  const root = join(rootDir, vm);
  return {
    root,
    home: join(root, 'home', adminUser),
    bin: join(root, 'bin'),
    dockerClient: join(root, 'lib', 'lcm', 'docker-client'),
    hostKeyFile: join(root, 'etc', 'ssh', 'ssh_host_ed25519_key'),
    dockerState: join(root, 'var', 'lib', 'docker'),
  };
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function sudoScript(): string {
  return `#!/bin/bash
# sudo stand-in: commands on an emulated VM already run as the VM's user; run the command as given.
while [ $# -gt 0 ]; do
  case "$1" in
    -u|-g|-C|-p|-r|-t|-U|-D|--user|--group) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    [A-Za-z_]*=*) export "$1"; shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then echo "usage: sudo [-nEH] command" >&2; exit 1; fi
exec "$@"
`;
}

function aptScript(layout: SandboxLayout): string {
  return `#!/bin/bash
# apt-get stand-in: never touches the real machine's packages. Installing docker.io/docker-ce puts
# the docker CLI stand-in into this VM's bin and tells the VM's Docker engine.
SANDBOX=${q(layout.root)}
CLIENT=${q(layout.dockerClient)}
cmd=""; pkgs=(); skip=0
for a in "$@"; do
  if [ $skip -eq 1 ]; then skip=0; continue; fi
  case "$a" in
    -o|-t|-c|--option|--target-release|--config-file) skip=1 ;;
    -*) ;;
    *) if [ -z "$cmd" ]; then cmd="$a"; else pkgs+=("$a"); fi ;;
  esac
done
case "$cmd" in
  update) echo "Reading package lists... Done (emulated VM: nothing fetched)" ;;
  install)
    for p in "\${pkgs[@]}"; do
      case "$p" in
        docker.io|docker-ce)
          if [ -x "$SANDBOX/bin/docker" ]; then
            echo "$p is already the newest version."
            "$CLIENT" __lcm-event install "$p" "already installed" || exit 100
          else
            echo "Setting up $p ..."
            cp "$CLIENT" "$SANDBOX/bin/docker" && chmod 0755 "$SANDBOX/bin/docker" || exit 100
            "$CLIENT" __lcm-event install "$p" "" || exit 100
          fi ;;
        *) echo "Setting up $p ... (emulated VM: nothing installed)" ;;
      esac
    done ;;
  upgrade|dist-upgrade|full-upgrade|autoremove|clean|autoclean|remove|purge) echo "emulated VM: apt-get $cmd does nothing" ;;
  "") echo "E: No command given (emulated apt-get)" >&2; exit 100 ;;
  *) echo "E: Invalid operation $cmd" >&2; exit 100 ;;
esac
`;
}

function systemctlScript(layout: SandboxLayout): string {
  return `#!/bin/bash
# systemctl stand-in: the docker unit exists once Docker is "installed" in this VM's sandbox.
SANDBOX=${q(layout.root)}
args=()
for a in "$@"; do case "$a" in -*) ;; *) args+=("$a") ;; esac; done
verb="\${args[0]:-}"; unit="\${args[1]:-}"; unit="\${unit%.service}"; unit="\${unit%.socket}"
case "$verb" in daemon-reload|daemon-reexec|"") exit 0 ;; esac
case "$unit" in
  docker|containerd)
    if [ -x "$SANDBOX/bin/docker" ]; then
      case "$verb" in
        is-active) echo active ;;
        is-enabled) echo enabled ;;
        status) echo "● $unit.service - emulated"; echo "     Active: active (running)" ;;
        *) ;;
      esac
      exit 0
    fi
    case "$verb" in
      is-active) echo inactive; exit 3 ;;
      is-enabled) echo "Failed to get unit file state for $unit.service: No such file or directory" >&2; exit 1 ;;
      status) echo "Unit $unit.service could not be found." >&2; exit 4 ;;
      *) echo "Failed to $verb $unit.service: Unit $unit.service not found." >&2; exit 5 ;;
    esac ;;
  *)
    case "$verb" in
      is-active) echo inactive; exit 3 ;;
      *) echo "emulated VM: systemctl $verb $unit does nothing" ;;
    esac ;;
esac
`;
}

const serviceScript = `#!/bin/bash
# service stand-in: \`service docker start\` -> the systemctl stand-in.
exec systemctl "$2" "$1"
`;

const noopScript = (name: string): string => `#!/bin/bash
# ${name} stand-in: users and groups of the real machine are never changed from an emulated VM.
exit 0
`;

/** Creates the sandbox directories and (re)writes the stand-ins; keeps home, images and keys. */
export function prepareSandbox(layout: SandboxLayout, dockerSock: string): void {
  for (const dir of [layout.home, layout.bin, dirname(layout.dockerClient), layout.dockerState]) {
    mkdirSync(dir, { recursive: true });
  }
  const write = (file: string, text: string): void => {
    writeFileSync(file, text);
    chmodSync(file, 0o755);
  };
  write(layout.dockerClient, dockerClientScript(dockerSock));
  write(join(layout.bin, 'sudo'), sudoScript());
  write(join(layout.bin, 'apt-get'), aptScript(layout));
  write(join(layout.bin, 'apt'), aptScript(layout));
  write(join(layout.bin, 'systemctl'), systemctlScript(layout));
  write(join(layout.bin, 'service'), serviceScript);
  for (const name of ['usermod', 'groupadd', 'gpasswd']) write(join(layout.bin, name), noopScript(name));
  // A VM that already "installed" Docker gets the current client (the socket path may have moved).
  if (existsSync(join(layout.bin, 'docker'))) write(join(layout.bin, 'docker'), dockerClientScript(dockerSock));
}

/** The usual PATH of an Ubuntu VM, plus the directory of this Node (the docker stand-in needs it). */
const USUAL_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * The PATH after the sandbox's bin. A directory of the real machine that holds a `docker*` binary
 * is replaced by a farm of symlinks to its other entries, so that `command -v docker` fails on a
 * VM until Docker is installed there and can never reach the machine's own Docker.
 */
export function vmSystemPath(farmRoot: string, nodeDir: string): string {
  const dirs = [...USUAL_PATH];
  if (!dirs.includes(nodeDir)) dirs.push(nodeDir);
  const out: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      if (!statSync(dir).isDirectory()) continue;
      names = readdirSync(dir);
    } catch {
      continue;
    }
    if (!names.some((n) => n.startsWith('docker'))) {
      out.push(dir);
      continue;
    }
    const farm = join(farmRoot, dir.replace(/[^A-Za-z0-9]+/g, '_'));
    mkdirSync(farm, { recursive: true });
    for (const n of names) {
      if (n.startsWith('docker')) continue;
      const link = join(farm, n);
      try {
        lstatSync(link);
      } catch {
        symlinkSync(join(dir, n), link);
      }
    }
    out.push(farm);
  }
  return out.join(':');
}
