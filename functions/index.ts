/**
 * The only file that registers the LCM's functions. The Azure Functions host loads it (package.json
 * "main"); the local host in local/host loads the very same registrations.
 */
import { app, type FunctionInput, type InvocationContext } from '@azure/functions';
import type { ActivityHandler } from 'durable-functions';
import * as df from 'durable-functions';
import { A, O, type Activities, type ActivityName } from './activities/contracts.js';
import { makeRunBootStep } from './activities/boot-step.js';
import { adoptServices, codeVersions, ensureDocker, pollBuilds, startBuilds, startService, startKafka, restartContainer, checkHealth } from './activities/containers.js';
import { addVmToDesiredState, readDesiredState } from './activities/desired-state.js';
import { locateService, markService, readRestartTarget, recordEvent, recordRestart } from './activities/records.js';
import { ensureResourceGroup, ensureVm, registerVm, restartVm } from './activities/vm.js';
import { endedInstances, notifyInstance, startInstances } from './activities/instances.js';
import { groupsSettled, makePrepareBoot, makeSummarizeBoot } from './activities/boot.js';
import { startRestart, startWatchdog } from './activities/watchdog.js';
import { deregisterInstance, readActualState, stopContainer } from './activities/actual-state.js';
import { activeOperations } from './activities/operations.js';
import * as desiredState from './http/desired-state.js';
import { reconcile } from './orchestrations/reconcile.js';
import { buildImages } from './orchestrations/build-images.js';
import * as api from './http/api.js';
import { getServiceLogs } from './http/logs.js';
import { openApiDocument } from './http/openapi.js';
import { getUiAsset, getUiIndex } from './http/ui.js';
import { route, type Handler } from './http/respond.js';
import { bootPlatform } from './orchestrations/boot-platform.js';
import { bootGroup } from './orchestrations/boot-group.js';
import { bootTick } from './orchestrations/boot-tick.js';
import { bootStep } from './orchestrations/boot-step.js';
import { bootVm } from './orchestrations/boot-vm.js';
import { restartService } from './orchestrations/restart-service.js';
import { initVm, provisionVm, restartVm as restartVmOrchestration } from './orchestrations/vm-operations.js';
import { watchdog } from './orchestrations/watchdog.js';

// Orchestrations
df.app.orchestration(O.boot, bootPlatform);
df.app.orchestration(O.bootGroup, bootGroup);
df.app.orchestration(O.bootTick, bootTick);
df.app.orchestration(O.bootVm, bootVm);
df.app.orchestration(O.bootStep, bootStep);
df.app.orchestration(O.provisionVm, provisionVm);
df.app.orchestration(O.initVm, initVm);
df.app.orchestration(O.restartVm, restartVmOrchestration);
df.app.orchestration(O.restartService, restartService);
df.app.orchestration(O.watchdog, watchdog);
df.app.orchestration(O.reconcile, reconcile);
df.app.orchestration(O.buildImages, buildImages);

// Activities: thin, typed calls into one adapter each
// Each handler is checked against the Activities table: its input and output are what callers use.
type Typed<K extends ActivityName> = (input: Activities[K]['input'], context: InvocationContext) => Promise<Activities[K]['output']>;
const activity = <K extends ActivityName>(name: K, handler: Typed<K>, extraInputs: FunctionInput[] = []) =>
  df.app.activity(name, { handler: handler as ActivityHandler, extraInputs });

activity(A.readDesiredState, readDesiredState);
activity(A.addVmToDesiredState, addVmToDesiredState);
activity(A.ensureResourceGroup, ensureResourceGroup);
activity(A.ensureVm, ensureVm);
activity(A.restartVm, restartVm);
activity(A.registerVm, registerVm);
activity(A.ensureDocker, ensureDocker);
// The boot's builds: started detached on the VM, then polled between durable timers.
activity(A.startBuilds, startBuilds);
activity(A.pollBuilds, pollBuilds);
activity(A.codeVersions, codeVersions);
activity(A.startService, startService);
activity(A.adoptServices, adoptServices);
activity(A.startKafka, startKafka);
// A boot group's step: the start, then its report raised to the group (through the durable client).
activity(A.runBootStep, makeRunBootStep({ startService, startKafka }), [df.input.durableClient()]);
activity(A.restartContainer, restartContainer);
activity(A.checkHealth, checkHealth);
activity(A.readRestartTarget, readRestartTarget);
activity(A.locateService, locateService);
activity(A.recordRestart, recordRestart);
activity(A.markService, markService);
activity(A.recordEvent, recordEvent);
// The watchdog is an independent instance: this activity starts it through the durable client.
activity(A.startWatchdog, startWatchdog, [df.input.durableClient()]);
// The boot starts its units and they report back, through the durable client.
activity(A.startInstances, startInstances, [df.input.durableClient()]);
activity(A.notifyInstance, notifyInstance, [df.input.durableClient()]);
activity(A.endedInstances, endedInstances, [df.input.durableClient()]);
activity(A.groupsSettled, groupsSettled, [df.input.durableClient()]);
// The boot's bookends: prepare (its start event, desired state, resource group, versions, start the
// groups) and summarize (the groups' outputs, and the boot's end event).
activity(A.prepareBoot, makePrepareBoot({ readDesiredState, ensureResourceGroup, codeVersions, recordEvent }), [df.input.durableClient()]);
activity(A.summarizeBoot, makeSummarizeBoot({ recordEvent }), [df.input.durableClient()]);
// The watchdog starts a restart through the client, which refuses an id a running restart holds.
activity(A.startRestart, startRestart, [df.input.durableClient()]);
// The reconcile: the live actual state, draining and stopping containers, and what it must wait for.
activity(A.readActualState, readActualState);
activity(A.stopContainer, stopContainer);
activity(A.deregisterInstance, deregisterInstance);
activity(A.activeOperations, activeOperations, [df.input.durableClient()]);

// The HTTP API
const client = [df.input.durableClient()];
const http = (name: string, methods: Array<'GET' | 'POST' | 'PUT'>, path: string, handler: Handler, authLevel: 'function' | 'anonymous' = 'function') =>
  app.http(name, { route: path, methods, authLevel, extraInputs: client, handler: route(handler) });

http('health', ['GET'], 'health', async () => ({ jsonBody: { status: 'ok', app: 'life-cycle-manager' } }), 'anonymous');
http('openapi', ['GET'], 'openapi.json', async () => ({ jsonBody: openApiDocument }), 'anonymous');
http('boot', ['POST'], 'boot', api.postBoot);
http('platform', ['GET'], 'platform', api.getPlatform);
http('registry', ['GET'], 'registry', api.getRegistry);
http('registryEntry', ['GET'], 'registry/{service}', api.getRegistryEntry);
http('vms', ['GET'], 'vms', api.getVms);
http('vmProvision', ['POST'], 'vms', api.postVm);
http('vmInit', ['POST'], 'vms/{name}/init', api.postVmInit);
http('vmRestart', ['POST'], 'vms/{name}/restart', api.postVmRestart);
http('vmResetHostKey', ['POST'], 'vms/{name}/reset-host-key', api.postResetHostKey);
http('service', ['GET'], 'services/{name}', api.getService);
http('serviceLogs', ['GET'], 'services/{name}/logs', getServiceLogs);
http('serviceRestart', ['POST'], 'services/{name}/restart', api.postRestart('services'));
http('appRestart', ['POST'], 'apps/{name}/restart', api.postRestart('apps'));
http('modelRestart', ['POST'], 'models/{name}/restart', api.postRestart('models'));
http('operation', ['GET'], 'operations/{id}', api.getOperation);
http('operationTerminate', ['POST'], 'operations/{id}/terminate', api.postTerminateOperation);
// Desired state that converges (operators' key only: see http/roles.ts)
http('desiredStateGet', ['GET'], 'desired-state', desiredState.getDesiredState);
http('desiredStatePut', ['PUT'], 'desired-state', desiredState.putDesiredState);
http('desiredStatePlan', ['POST'], 'desired-state/plan', desiredState.postPlan);
http('reconcileStart', ['POST'], 'reconcile', desiredState.postReconcile);
http('serviceScale', ['POST'], 'services/{name}/scale', desiredState.postScale);
http('serviceMove', ['POST'], 'services/{name}/move', desiredState.postMove);
// The central UI's static files (anonymous: no data in them; the page calls the API with the key).
http('uiIndex', ['GET'], 'ui', getUiIndex, 'anonymous');
http('uiAsset', ['GET'], 'ui/{file}', getUiAsset, 'anonymous');
