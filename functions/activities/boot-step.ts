/**
 * One step of a boot as one activity: start Kafka or one service, then raise the outcome to the
 * boot group that asked for it, as the step's report. The group takes the report as it takes
 * every other (it does not wait for this activity's own result), so a level of the platform costs
 * a boot two queue messages on Azure (this activity's work item and its report), not a
 * sub-orchestration's start, its activity and a notify activity (eight). Safe to run twice: the
 * starts are, and the group takes a step's report once. Its answer is the same outcome: the group
 * takes it instead when the report could not be raised.
 */
import type { InvocationContext } from '@azure/functions';
import { Guard } from '../platform/guard.js';
import type { BootStepInput, BootStepOutput } from '../orchestrations/boot-step.js';
import { BOOT_PROGRESS, type BootReport } from '../orchestrations/tasks.js';
import type { StartKafkaInput, StartServiceInput, StartedService } from './contracts.js';
import { notifyInstance } from './instances.js';

export interface BootStepStarts {
  startService: (input: StartServiceInput) => Promise<StartedService>;
  startKafka: (input: StartKafkaInput) => Promise<StartedService>;
}

export function makeRunBootStep(starts: BootStepStarts): (input: BootStepInput, context: InvocationContext) => Promise<BootStepOutput> {
  return async (input, context) => {
    const g = new Guard().name('step', input?.step);
    if (typeof input?.notify?.instanceId !== 'string' || typeof input.notify.run !== 'string') g.issues.push({ path: 'notify', message: 'must name the boot group to report to and its run' });
    g.done('runBootStep');
    let output: BootStepOutput;
    try {
      if (!input.kafka && !input.service) throw new Error(`boot step "${input.step}" names neither Kafka nor a service`);
      const started = input.kafka ? await starts.startKafka(input.kafka) : await starts.startService(input.service!);
      output = { step: input.step, ok: true, started };
    } catch (e) {
      output = { step: input.step, ok: false, reason: (e as Error).message };
    }
    const report: BootReport = { run: input.notify.run, kind: 'step', name: input.step, output };
    try {
      await notifyInstance({ instanceId: input.notify.instanceId, event: BOOT_PROGRESS, data: report }, context);
    } catch (e) {
      // The start's outcome stands: failing here would have the group count a running service as
      // failed. The group takes this answer instead of the report when it next looks (boot-group.ts).
      context.warn(`runBootStep ${input.step}: could not report to ${input.notify.instanceId}: ${(e as Error).message}; the group takes the answer instead`);
    }
    return output;
  };
}
