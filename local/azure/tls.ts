/**
 * One self-signed certificate (CA:true, SAN 127.0.0.1, localhost and any extra addresses, such as
 * the one the local VMs reach the host on) per emulator run. Every HTTPS
 * emulator serves it; clients trust it through `new https.Agent({ ca })`, never through
 * NODE_TLS_REJECT_UNAUTHORIZED (which is process-wide).
 */
import https from 'node:https';
import selfsigned from 'selfsigned';

export interface LocalTls {
  /** PEM certificate: what clients pass as `ca`. */
  cert: string;
  /** PEM private key: for the emulators' servers only. */
  key: string;
}

export function generateLocalTls(options: { ips?: string[] } = {}): LocalTls {
  const extra = (options.ips ?? []).filter((ip) => ip !== '127.0.0.1').map((ip) => ({ type: 7, ip }));
  const pems = selfsigned.generate([{ name: 'commonName', value: 'lcm-local-emulators' }], {
    days: 7,
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }, ...extra] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** An agent that trusts exactly the emulators' certificate. */
export function trustingAgent(caCert: string): https.Agent {
  return new https.Agent({ ca: caCert, keepAlive: true });
}
