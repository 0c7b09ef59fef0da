/** Public types of the emulated VM fleet. */

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

export interface SpecialImageContext {
  vm: string;
  ip: string;
  /** The container port (from -p, else EXPOSE, else PORT); the engine proxies a different host port. */
  port: number;
  env: Record<string, string>;
  logs: (line: string) => void;
}

/** An image the engine starts in-process instead of spawning a command (e.g. the Kafka broker). */
export interface SpecialImage {
  start(ctx: SpecialImageContext): Promise<{ stop(): Promise<void> }>;
}

export interface VmInfo {
  name: string;
  ip: string;
  sshPort: number;
  adminUser: string;
  /** 'SHA256:' + unpadded base64 of sha256(host key blob): pin it in node-ssh's hostVerifier. */
  hostKeyFingerprint: string;
  /** The VM's sandbox directory (its filesystem root for SFTP, its home under home/<adminUser>). */
  sandbox: string;
  home: string;
  running: boolean;
}
