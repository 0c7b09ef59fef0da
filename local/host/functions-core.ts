/**
 * Stand-in for `@azure/functions-core`, the module the real Node worker injects. `@azure/functions`
 * requires it lazily (and caches the answer forever), so the stand-in is made resolvable as soon as
 * this module is imported: before any app entry registers a function. Registrations are routed to
 * the host that is currently loading an entry; loads are serialized process-wide.
 */
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

/** What `@azure/functions` hands to `registerFunction` (see its toCoreFunctionMetadata). */
export interface CoreBinding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [key: string]: unknown;
}
export interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, CoreBinding>;
  retryOptions?: unknown;
}
// The handler shape differs per trigger; the SDKs force this signature.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CoreHandler = (...args: any[]) => unknown;
export type RegistrationSink = (metadata: CoreFunctionMetadata, handler: CoreHandler) => void;
export type CoreLog = (level: string, category: string, message: string) => void;

interface CoreState {
  sink: RegistrationSink | null;
  log: CoreLog | null;
  programmingModel: unknown;
  loadChain: Promise<unknown>;
  loads: number;
}

const STATE_KEY = Symbol.for('lcm.local-host.functions-core');
const CORE_ID = '@azure/functions-core';
// A path no real file has: require.cache is keyed by resolved filename.
const VIRTUAL_FILENAME = path.join(path.sep, '__lcm_local_host__', 'node_modules', '@azure', 'functions-core', 'index.js');

function state(): CoreState {
  const g = globalThis as unknown as Record<symbol, CoreState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = { sink: null, log: null, programmingModel: undefined, loadChain: Promise.resolve(), loads: 0 };
    g[STATE_KEY] = s;
    install(s);
  }
  return s;
}

function install(s: CoreState): void {
  const coreApi = {
    version: 'lcm-local-host',
    hostVersion: '4.0.0-local',
    registerFunction(metadata: CoreFunctionMetadata, handler: CoreHandler) {
      if (!s.sink) {
        throw new Error(
          `Function "${metadata?.name}" was registered outside a local host load: register functions at the top level of the entry module that startLocalHost() imports.`,
        );
      }
      s.sink(metadata, handler);
      return { dispose() {} };
    },
    setProgrammingModel(model: unknown) {
      s.programmingModel = model;
    },
    getProgrammingModel() {
      return s.programmingModel;
    },
    // Hooks (appStart, preInvocation...) are accepted and not run by the local host.
    registerHook() {
      return { dispose() {} };
    },
    log(level: string, category: string, message: string) {
      if (s.log) s.log(level, category, message);
    },
  };
  const m = new Module(VIRTUAL_FILENAME);
  m.filename = VIRTUAL_FILENAME;
  m.loaded = true;
  m.exports = coreApi;
  const req = createRequire(import.meta.url);
  req.cache[VIRTUAL_FILENAME] = m;
  const mod = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = mod._resolveFilename;
  mod._resolveFilename = function resolveFilename(this: unknown, request: string, ...rest: unknown[]) {
    if (request === CORE_ID) return VIRTUAL_FILENAME;
    return original.call(this, request, ...rest);
  };
}

// Installed at import time so that no registration can happen before the stand-in exists.
state();

/** Resolve an entry given as a path or file URL to an importable URL (made unique per load). */
export function entryUrl(entry: string, unique: number): string {
  const base = entry.startsWith('file:') ? new URL(entry) : pathToFileURL(path.resolve(entry));
  // A query string makes Node/vite evaluate the entry module again for each host in a process.
  if (unique > 1) base.searchParams.set('lcmHostLoad', String(unique));
  return base.href;
}

/**
 * Import `entry` while every registration goes to `sink`. Loads in one process are serialized
 * because the stand-in module is process-wide.
 */
export function loadEntry(entry: string, sink: RegistrationSink, log: CoreLog): Promise<void> {
  const s = state();
  const run = async () => {
    s.loads += 1;
    s.sink = sink;
    s.log = log;
    try {
      await import(entryUrl(entry, s.loads));
    } finally {
      s.sink = null;
    }
  };
  const p = s.loadChain.then(run, run);
  s.loadChain = p.catch(() => undefined);
  return p;
}

/** Route SDK system logs (`coreApi.log`) to a host's logger after loading. */
export function setCoreLog(log: CoreLog | null): void {
  state().log = log;
}
