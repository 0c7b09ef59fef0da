/**
 * What cloud-init does with a VM's customData at its first boot, as far as a local VM needs it:
 * a `#cloud-config` document's SSH host keys (`ssh_keys`, `ssh_deletekeys`, `ssh_genkeytypes`,
 * cloud-init's cc_ssh module). Anything else in the config is ignored, as cloud-init ignores keys
 * of modules an image does not run; customData that is not a cloud-config (a script) is refused,
 * since a local VM cannot run it and a silent skip would hide that.
 */
import { parse } from 'yaml';

export const HOST_KEY_TYPES = ['rsa', 'ecdsa', 'ed25519'] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

export interface SshHostKeyConfig {
  /** Host keys given in the config, by type. */
  keys: Partial<Record<HostKeyType, { private: string; public?: string }>>;
  /** Drop the image's host keys first (cloud-init's default: true). */
  deleteKeys: boolean;
  /** Types generated when not given (cloud-init's default: rsa, ecdsa, ed25519). */
  genKeyTypes: HostKeyType[];
}

/** The SSH part of the VM's customData (base64 as ARM stores it); undefined when there is none. */
export function sshHostKeyConfig(vm: string, customData: string | undefined): SshHostKeyConfig | undefined {
  if (customData === undefined || customData === '') return undefined;
  const text = Buffer.from(customData, 'base64').toString('utf8');
  if (!/^#cloud-config[ \t]*\r?\n/.test(text)) {
    throw new Error(`VM ${vm}: customData is not a #cloud-config document; the local VMs run only cloud-config (ssh_keys)`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`VM ${vm}: customData is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const config = (doc ?? {}) as Record<string, unknown>;
  const keys: SshHostKeyConfig['keys'] = {};
  const given = (config['ssh_keys'] ?? {}) as Record<string, unknown>;
  for (const type of HOST_KEY_TYPES) {
    const priv = given[`${type}_private`];
    const pub = given[`${type}_public`];
    if (priv === undefined) continue;
    if (typeof priv !== 'string' || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(priv)) throw new Error(`VM ${vm}: customData ssh_keys.${type}_private is not a private key`);
    keys[type] = { private: priv.endsWith('\n') ? priv : `${priv}\n`, ...(typeof pub === 'string' ? { public: pub.trim() } : {}) };
  }
  const gen = config['ssh_genkeytypes'];
  const genKeyTypes = Array.isArray(gen) ? gen.filter((t): t is HostKeyType => (HOST_KEY_TYPES as readonly string[]).includes(String(t))) : [...HOST_KEY_TYPES];
  return { keys, deleteKeys: config['ssh_deletekeys'] !== false, genKeyTypes };
}
