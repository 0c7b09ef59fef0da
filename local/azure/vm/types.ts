/** Public types of the local VM fleet. */

export type DockerEventKind = 'install' | 'build' | 'run' | 'start' | 'restart' | 'stop' | 'rm' | 'exit' | 'crash';

/**
 * Who caused an event: `cli` a command run on the VM (docker, apt-get), `policy` a restart policy,
 * `boot` the VM powering on, `power` a power-off or killVm, `control` the fleet's control surface
 * (crashContainer), `process` the service process ending on its own.
 */
export type DockerEventSource = 'cli' | 'policy' | 'boot' | 'power' | 'control' | 'process';

export interface DockerEvent {
  /** Epoch milliseconds. */
  at: number;
  kind: DockerEventKind;
  by: DockerEventSource;
  container?: string;
  image?: string;
  /** e.g. 'already installed', 'failed: ...', 'exit code 137'. */
  detail?: string;
}

export type DockerEventCounts = Record<DockerEventKind, number>;

export interface VmInfo {
  name: string;
  /** Public IP address (SSH). */
  ip: string;
  /** Private (VNet) address, where its services are registered. */
  privateIp: string;
  sshPort: number;
  adminUser: string;
  /** 'SHA256:' + unpadded base64 of sha256(host key blob): pin it in node-ssh's hostVerifier. */
  hostKeyFingerprint: string;
  /** The VM's disk on the host (home, Docker data root, host key, logs). */
  disk: string;
  /** The admin user's home as seen from the host (/home/<adminUser> inside the VM). */
  home: string;
  /** The VM's network namespace (under /run/netns). */
  netns: string;
  running: boolean;
}
