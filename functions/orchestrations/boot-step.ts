/**
 * One step of a boot as an orchestration (instance `boot-step-<name>`): the root starts the
 * monitoring service this way once every group has settled (a group runs its steps as
 * `runBootStep` activities). Start it, then report the outcome to the boot with an event: the
 * root starts it through the durable client and waits for the report (see boot-platform.ts), or
 * reads the outcome from this output at its alarm clock's tick when the report was refused.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { A, type StartKafkaInput, type StartServiceInput, type StartedService } from '../activities/contracts.js';
import { failureMessage, reportTo, type BootNotify } from './tasks.js';
import { call } from './calls.js';

export interface BootStepInput {
  step: string;
  kafka?: StartKafkaInput;
  service?: StartServiceInput;
  notify: BootNotify;
}

export type BootStepOutput = { step: string; ok: true; started: StartedService } | { step: string; ok: false; reason: string };

export const bootStep: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<BootStepInput>();
  let output: BootStepOutput;
  try {
    if (!input.kafka && !input.service) throw new Error(`boot step "${input.step}" names neither Kafka nor a service`);
    const started = input.kafka ? yield* call(context, A.startKafka, input.kafka) : yield* call(context, A.startService, input.service!);
    output = { step: input.step, ok: true, started };
  } catch (e) {
    output = { step: input.step, ok: false, reason: failureMessage(e) };
  }
  try {
    yield* reportTo(context, input.notify, { run: input.notify.run, kind: 'step', name: input.step, output });
  } catch {
    // Refused past its retries: completed all the same, the boot's alarm clock reads the output.
  }
  return output;
};
