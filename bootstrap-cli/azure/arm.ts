/**
 * Raw ARM requests for the deploy path (@azure/arm-resources is not installed): one
 * @azure/core-rest-pipeline pipeline with the bearer-token policy (retries for 429 + Retry-After and
 * 5xx included), an https agent trusting the emulator's CA when one is given, long-running
 * operations followed through their Azure-AsyncOperation URL, and errors that name the step.
 */
import https from 'node:https';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/core-auth';
import { explainCredentialError, isCredentialError, SIGN_IN_HELP } from '../../functions/cloud/credentials.js';
import { CliError, EXIT } from '../io.js';

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';
/** Tokens for ARM also open Kudu (the publish endpoint) with Entra ID auth. */
export const ARM_SCOPE = 'https://management.azure.com/.default';

export interface ArmClientOptions {
  credential: TokenCredential;
  /** Default: the public cloud. */
  endpoint?: string;
  /** PEM certificate to trust (the local emulators'). */
  caCert?: string;
  /** Poll interval of long-running operations when ARM sends no Retry-After (or 0); default 2000 ms. */
  pollIntervalInMs?: number;
  /** Longest pause between polls: ARM's Retry-After is honoured up to it; default 60 s. */
  maxLroPollSeconds?: number;
}

export interface ArmResponse {
  status: number;
  body: any; // JSON of ARM resources: shapes vary per provider
  headers: Record<string, string>;
}

/** A failed ARM step: what, where, ARM's code and message, and what to do. */
export class ArmStepError extends CliError {
  constructor(
    readonly step: string,
    readonly code: string,
    detail: string,
    readonly status?: number,
  ) {
    super(`${step} failed: ${code}: ${detail}${hint(code)}`, EXIT.failed);
    this.name = 'ArmStepError';
  }
}

function hint(code: string): string {
  if (/^(AuthorizationFailed|LinkedAuthorizationFailed)$/.test(code)) return ' — the signed-in identity needs Owner (or Contributor + User Access Administrator: the template assigns roles) on the resource group';
  if (/^(AuthenticationFailed|InvalidAuthenticationToken|ExpiredAuthenticationToken)$/.test(code)) return ` — ${SIGN_IN_HELP}`;
  if (/AlreadyExists|NameNotAvailable|StorageAccountAlreadyTaken|VaultAlreadyExists/.test(code)) return ' — the name is global and taken: pick another with the corresponding option or in the topology';
  if (/Quota|SkuNotAvailable|NoRegisteredProviderFound|MissingSubscriptionRegistration/.test(code)) return ' — check the region and the subscription (quota, registered providers)';
  return '';
}

/** Turns an identity failure into the "sign in with az login" error; anything else passes. */
export function signInError(err: unknown, step: string): unknown {
  if (!isCredentialError(err)) return err;
  return new CliError((explainCredentialError(err, step) as Error).message, EXIT.failed);
}

export class ArmClient {
  readonly endpoint: string;
  private readonly pipeline: Pipeline;
  private readonly http: HttpClient;
  private readonly agent?: https.Agent;
  private readonly pollIntervalInMs: number;
  private readonly maxLroPollSeconds: number;

  constructor(private readonly options: ArmClientOptions) {
    this.endpoint = (options.endpoint ?? PUBLIC_ARM_ENDPOINT).replace(/\/+$/, '');
    this.agent = options.caCert ? new https.Agent({ ca: options.caCert, keepAlive: true }) : undefined;
    this.pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 6 } });
    this.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: ARM_SCOPE }));
    this.http = createDefaultHttpClient();
    this.pollIntervalInMs = options.pollIntervalInMs ?? 2000;
    this.maxLroPollSeconds = options.maxLroPollSeconds ?? 60;
  }

  /** The https agent for other endpoints of the same deployment (Kudu, Cosmos) in the emulator. */
  get httpsAgent(): https.Agent | undefined {
    return this.agent;
  }

  /** A bearer token for ARM-scoped endpoints (Kudu). */
  async token(step: string): Promise<string> {
    try {
      const token = await this.options.credential.getToken(ARM_SCOPE);
      if (!token) throw new CliError(`${step}: the credential returned no token. ${SIGN_IN_HELP}`);
      return token.token;
    } catch (err) {
      throw signInError(err, step);
    }
  }

  /**
   * The object id of the signed-in principal: the `oid` claim of its ARM token (what
   * `az ad signed-in-user show --query id` gives, without a Graph call). The template grants it
   * the Cosmos data role it seeds with.
   */
  async principalId(step: string): Promise<string> {
    const token = await this.token(step);
    let oid: unknown;
    try {
      oid = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { oid?: unknown }).oid;
    } catch {
      oid = undefined;
    }
    if (typeof oid !== 'string' || !/^[0-9a-f-]{36}$/i.test(oid)) {
      throw new CliError(`${step}: the ARM token of the signed-in principal carries no object id (oid claim); sign in as a user or service principal. ${SIGN_IN_HELP}`);
    }
    return oid;
  }

  /** One request; `path` is below the endpoint or a full URL (async-operation URLs). */
  async request(step: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, apiVersion: string | undefined, body?: unknown): Promise<ArmResponse> {
    let url = /^https?:\/\//.test(path) ? path : `${this.endpoint}${path}`;
    if (apiVersion) url += `${url.includes('?') ? '&' : '?'}api-version=${apiVersion}`;
    const request = createPipelineRequest({
      url,
      method,
      headers: createHttpHeaders({ accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    // createPipelineRequest does not take an agent: set it on the request (what agentPolicy does).
    if (this.agent) request.agent = this.agent;
    let response;
    try {
      response = await this.pipeline.sendRequest(this.http, request);
    } catch (err) {
      const explained = signInError(err, step);
      if (explained !== err) throw explained;
      throw new ArmStepError(step, (err as { code?: string }).code ?? 'RequestFailed', (err as Error).message.replace(/\s+/g, ' '));
    }
    let parsed: unknown = undefined;
    if (response.bodyAsText) {
      try {
        parsed = JSON.parse(response.bodyAsText);
      } catch {
        parsed = response.bodyAsText;
      }
    }
    return { status: response.status, body: parsed, headers: response.headers.toJSON() };
  }

  /** GET; undefined on 404. */
  async get(step: string, path: string, apiVersion: string): Promise<any | undefined> {
    const res = await this.request(step, 'GET', path, apiVersion);
    if (res.status === 404) return undefined;
    this.check(step, res);
    return res.body;
  }

  async post(step: string, path: string, apiVersion: string, body?: unknown): Promise<any> {
    const res = await this.withHostRuntime(step, () => this.request(step, 'POST', path, apiVersion, body));
    this.check(step, res);
    return res.body;
  }

  /**
   * Host-key calls reach the Functions host through App Service; while the host starts (a fresh
   * package, a restart after new settings) App Service answers 400 "Encountered an error
   * (ServiceUnavailable) from host runtime" (azure-functions-host#5722). That 400 is transient:
   * retried with a growing pause, about five minutes in all.
   */
  private async withHostRuntime(step: string, send: () => Promise<ArmResponse>): Promise<ArmResponse> {
    let res = await send();
    for (let attempt = 1; isHostRuntimeUnavailable(res) && attempt <= HOST_RUNTIME_RETRIES; attempt++) {
      await sleep(Math.min(this.pollIntervalInMs * attempt, 30_000));
      res = await send();
    }
    if (isHostRuntimeUnavailable(res)) {
      throw new ArmStepError(step, 'ServiceUnavailable', 'the Functions host of the app did not start: App Service kept answering "Encountered an error (ServiceUnavailable) from host runtime" — check the app\'s log stream (a package that fails to start) and deploy again', res.status);
    }
    return res;
  }

  /** PUT, following the long-running operation when ARM starts one; returns the resource afterwards. */
  async put(step: string, path: string, apiVersion: string, body: unknown): Promise<any> {
    const send = () => this.request(step, 'PUT', path, apiVersion, body);
    const res = /\/host\/default\//i.test(path) ? await this.withHostRuntime(step, send) : await send();
    this.check(step, res);
    const asyncUrl = res.headers['azure-asyncoperation'];
    if (!asyncUrl) return res.body;
    await this.waitFor(step, asyncUrl, res.headers['retry-after']);
    return this.get(step, path, apiVersion);
  }

  private async waitFor(step: string, url: string, retryAfter: string | undefined): Promise<void> {
    let wait = this.pollDelay(retryAfter);
    for (;;) {
      await sleep(wait);
      const poll = await this.request(step, 'GET', url, undefined);
      this.check(step, poll);
      const status = String(poll.body?.status ?? '');
      if (status === 'Succeeded') return;
      if (status === 'Failed' || status === 'Canceled') {
        const error = poll.body?.error ?? {};
        throw new ArmStepError(step, error.code ?? status, detailOf(error));
      }
      wait = this.pollDelay(poll.headers['retry-after']);
    }
  }

  /**
   * ARM's Retry-After (whole seconds) when it gives one above 0, bounded by maxLroPollSeconds;
   * else the poll interval (0 or no header is no advice, as the SDKs' pollers read it).
   */
  private pollDelay(retryAfter: string | undefined): number {
    const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
    if (!Number.isFinite(seconds) || seconds <= 0) return this.pollIntervalInMs;
    return Math.min(seconds, this.maxLroPollSeconds) * 1000;
  }

  private check(step: string, res: ArmResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    const error = errorOf(res.body);
    throw new ArmStepError(step, error.code ?? `HTTP${res.status}`, detailOf(error) || `ARM answered ${res.status}`, res.status);
  }
}

const HOST_RUNTIME_RETRIES = 12;

/** ARM's `{error:{code,message}}`, or App Service's `{Code, Message, Details}` (capitalised). */
function errorOf(body: any): { code?: string; message?: string; details?: Array<{ code?: string; message?: string }> } {
  if (body?.error) return body.error;
  if (body && typeof body === 'object' && (typeof body.Code === 'string' || typeof body.Message === 'string')) {
    return { code: body.Code, message: body.Message };
  }
  return {};
}

export function isHostRuntimeUnavailable(res: ArmResponse): boolean {
  if (res.status !== 400) return false;
  const { message } = errorOf(res.body);
  return /Encountered an error \(ServiceUnavailable\) from host runtime/i.test(message ?? '');
}

/** ARM deployment errors nest the real cause in `details`. */
function detailOf(error: { message?: string; details?: Array<{ code?: string; message?: string }> }): string {
  const parts = [error.message ?? '', ...(error.details ?? []).map((d) => `${d.code ?? ''}: ${d.message ?? ''}`)];
  return parts.filter(Boolean).join(' | ').replace(/\s+/g, ' ').trim();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
