/**
 * Kafka's start deadline (`kafka.startupTimeoutInMs`) reaches the startKafka activity from every
 * path that starts the broker: the boot's groups hand it with the Kafka step (the reconcile and a
 * VM's re-creation pass it from the topology they read).
 */
import { describe, expect, it } from 'vitest';
import { bootGroups } from '../../functions/platform/boot-groups.js';
import { assertTopology } from '../../functions/platform/validate.js';
import { exampleDocument } from '../helpers/topology.js';

describe("Kafka's start deadline", () => {
  it("the boot's Kafka step carries the topology's deadline, or the 5-min default", () => {
    const kafkaStep = (doc: any) => bootGroups(assertTopology(doc), new Map()).groups.flatMap((g) => g.steps).find((s) => s.step === 'kafka')!;
    expect(kafkaStep(exampleDocument()).kafka!.startupTimeoutInMs).toBe(300_000);
    const doc = exampleDocument();
    doc.kafka.startupTimeoutInMs = 900_000;
    expect(kafkaStep(doc).kafka).toMatchObject({ port: 9092, startupTimeoutInMs: 900_000 });
  });
});
