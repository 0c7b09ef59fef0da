/**
 * Publishing the package by zip deploy to the app's Kudu endpoint
 * (`POST https://<scm host>/api/zipdeploy?isAsync=true`, Entra ID bearer token), then following
 * `GET /api/deployments/latest` until it completes. The package's SHA-256 travels in the deployment
 * message, so a run whose package equals the active deployment's publishes nothing.
 *
 * The Functions Core Tools (`func azure functionapp publish`) would do the same; they are detected
 * and mentioned, never required.
 */
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CliError, EXIT } from '../io.js';
import { sleep } from './arm.js';

export interface KuduTarget {
  /** e.g. lcm-x.scm.azurewebsites.net (Azure) or 127.0.0.1:PORT (emulator). */
  scmHost: string;
  token: () => Promise<string>;
  agent?: https.Agent;
}

export interface PublishResult {
  published: boolean;
  deploymentId?: string;
}

const MESSAGE_PREFIX = 'bootstrap-cli package sha256:';

interface KuduDeploymentBody {
  id?: string;
  status?: number;
  status_text?: string;
  message?: string;
  complete?: boolean;
  active?: boolean;
  log_url?: string;
}

/**
 * One Kudu request. A keep-alive socket the server closed while idle answers ECONNRESET on reuse
 * (front ends close idle connections): such a request is sent once more on a new connection
 * (a zip deploy of the same package twice is harmless).
 */
async function kudu(target: KuduTarget, token: string, method: 'GET' | 'POST', path: string, body?: Buffer): Promise<{ status: number; json: unknown }> {
  try {
    return await kuduOnce(target, token, method, path, body);
  } catch (e) {
    if ((e as { resetCode?: string }).resetCode !== 'ECONNRESET') throw e;
    return kuduOnce(target, token, method, path, body);
  }
}

function kuduOnce(target: KuduTarget, token: string, method: 'GET' | 'POST', path: string, body?: Buffer): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://${target.scmHost}${path}`,
      {
        method,
        agent: target.agent,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/zip', 'content-length': String(body.length) } : {}),
        },
        timeout: 10 * 60 * 1000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            // keep the text
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      const error = new CliError(`publish: cannot reach the publish endpoint https://${target.scmHost} (${code ?? e.message}): check the app exists and that its scm site allows Entra ID auth`, EXIT.failed);
      reject(Object.assign(error, { resetCode: code }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

/** The latest deployment (undefined when none). */
export async function latestDeployment(target: KuduTarget): Promise<KuduDeploymentBody | undefined> {
  const token = await target.token();
  const res = await kudu(target, token, 'GET', '/api/deployments/latest');
  if (res.status === 404) return undefined;
  if (res.status === 401 || res.status === 403) throw refused(target, res.status);
  if (res.status !== 200 && res.status !== 202) throw new CliError(`publish: GET https://${target.scmHost}/api/deployments/latest answered ${res.status}`, EXIT.failed);
  return res.json as KuduDeploymentBody;
}

export const isCurrent = (latest: KuduDeploymentBody | undefined, sha256: string): boolean =>
  Boolean(latest?.complete && latest.status === 4 && latest.message === `${MESSAGE_PREFIX}${sha256}`);

export async function publishPackage(
  target: KuduTarget,
  pkg: { zipFile: string; sha256: string },
  options: { pollIntervalInMs?: number; timeoutInMs?: number; say?: (line: string) => void } = {},
): Promise<PublishResult> {
  const say = options.say ?? (() => {});
  const before = await latestDeployment(target);
  if (isCurrent(before, pkg.sha256)) {
    say(`publish: the app already runs package ${pkg.sha256.slice(0, 12)}: nothing to publish`);
    return { published: false };
  }
  const body = await readFile(pkg.zipFile);
  const token = await target.token();
  say(`publish: zip deploy of ${(body.length / 1024 / 1024).toFixed(1)} MiB to https://${target.scmHost}`);
  const query = `isAsync=true&deployer=bootstrap-cli&message=${encodeURIComponent(`${MESSAGE_PREFIX}${pkg.sha256}`)}`;
  const res = await kudu(target, token, 'POST', `/api/zipdeploy?${query}`, body);
  if (res.status === 401 || res.status === 403) throw refused(target, res.status);
  if (res.status !== 202 && res.status !== 200) throw new CliError(`publish: zip deploy to https://${target.scmHost} answered ${res.status}: ${text(res.json)}`, EXIT.failed);
  const deadline = Date.now() + (options.timeoutInMs ?? 15 * 60 * 1000);
  const message = `${MESSAGE_PREFIX}${pkg.sha256}`;
  for (;;) {
    const found = await latestDeployment(target);
    // Until Kudu picks the new deployment up, "latest" is the previous one: wait for ours.
    const latest = found && found.id !== before?.id && found.message === message ? found : undefined;
    if (latest?.complete) {
      if (latest.status === 4) {
        say(`publish: deployment ${latest.id} succeeded`);
        return { published: true, deploymentId: latest.id };
      }
      const log = latest.log_url ? await deploymentLog(target, latest.log_url) : '';
      throw new CliError(
        `publish: the zip deploy to https://${target.scmHost} failed: ${latest.status_text || `status ${latest.status}`}${log ? `\n  ${log}` : ''}\n` +
          'Check the package (host.json, package.json and dist/ at its root, every production dependency in node_modules) and deploy again.',
        EXIT.failed,
      );
    }
    if (Date.now() > deadline) throw new CliError(`publish: the zip deploy to https://${target.scmHost} did not finish in time; see its deployment log in the portal (Deployment Center)`, EXIT.failed);
    await sleep(options.pollIntervalInMs ?? 2000);
  }
}

async function deploymentLog(target: KuduTarget, logUrl: string): Promise<string> {
  try {
    const url = new URL(logUrl);
    const res = await kudu(target, await target.token(), 'GET', url.pathname);
    if (!Array.isArray(res.json)) return '';
    return (res.json as Array<{ message?: string; type?: number }>).filter((e) => e.type === 2).map((e) => e.message).join('\n  ');
  } catch {
    return '';
  }
}

function refused(target: KuduTarget, status: number): CliError {
  return new CliError(
    `publish: https://${target.scmHost} refused the token (${status}): the signed-in identity needs Website Contributor (or Contributor) on the function app`,
    EXIT.failed,
  );
}

const text = (body: unknown): string => (typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300) ?? '');

/** Whether the Functions Core Tools are on PATH (informational: zip deploy does not need them). */
export function coreToolsVersion(): string | undefined {
  const result = spawnSync('func', ['--version'], { encoding: 'utf8', timeout: 5000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
