/**
 * The runBootStep activity (functions/activities/boot-step.ts) when its report cannot be raised:
 * the real durable client against a task hub endpoint that refuses the connection. The start's
 * outcome is the activity's answer all the same (the group takes it in place of the report).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import azureFunctions from '@azure/functions';
import * as df from 'durable-functions';
import { makeRunBootStep } from '../../functions/activities/boot-step.js';
import type { StartedService } from '../../functions/activities/contracts.js';
import { buildClientData } from '../../local/host/client-data.js';

const { InvocationContext } = azureFunctions;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('runBootStep', () => {
  it('answers with the start\'s outcome when its report cannot be raised, and says so in its log', async () => {
    const port = await closedPort();
    const client = df.input.durableClient();
    const warnings: string[] = [];
    const context = new InvocationContext({
      invocationId: 'step-1',
      functionName: 'runBootStep',
      options: { extraInputs: [client] },
      logHandler: (level, ...args) => {
        if (level === 'warning') warnings.push(args.join(' '));
      },
    });
    const base = `http://127.0.0.1:${port}`;
    context.extraInputs.set(client, buildClientData(base, `${base}/durabletask/x/`, 'LcmTaskHub', 'system-key'));
    const started: StartedService = { service: 'api', kind: 'microservice', vm: 'vm-1', host: '10.0.0.4', port: 8080, status: 'running', startedAt: 't', action: 'created' };
    const asked: string[] = [];
    const runBootStep = makeRunBootStep({
      startService: async (input) => {
        asked.push(input.service.name);
        return started;
      },
      startKafka: async () => {
        throw new Error('not Kafka');
      },
    });
    const out = await runBootStep(
      {
        step: 'api',
        service: {
          vm: { name: 'vm-1', host: '10.0.0.4', privateIp: '10.0.0.4', adminUser: 'lcm', sshKeySecret: 'vm-ssh-key' },
          service: { name: 'api', kind: 'microservice', port: 8080, env: {}, secretEnv: {}, health: { path: '/health', timeoutInMs: 2_000, startupTimeoutInMs: 60_000 } },
          image: 'lcm/api:v1',
          version: 'v1',
          operationId: 'boot',
          monitoring: false,
        },
        notify: { instanceId: 'boot-group-0', run: 'boot:1' },
      },
      context,
    );
    expect(asked).toEqual(['api']);
    expect(out).toEqual({ step: 'api', ok: true, started });
    expect(warnings.join('\n')).toMatch(/runBootStep api: could not report to boot-group-0: .*ECONNREFUSED.*the group takes the answer instead/);
  });
});
