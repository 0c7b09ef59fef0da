import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that boot platforms or start JVMs, longest first (measured on a 2-core machine):
 * started first, they overlap with the many short files instead of running alone at the end.
 */
const LONGEST_FIRST = [
  'test/e2e/example-platform.test.ts',
  'test/azure-deploy/deploy.test.ts',
  'test/e2e/faults.test.ts',
  'test/cli/deploy.test.ts',
  'test/e2e/reconcile.test.ts',
  'test/e2e/main-job.test.ts',
  'test/e2e/no-secrets.test.ts',
  'test/e2e/ui.test.ts',
  'test/integration/kafka/ensure-topics.test.ts',
  'test/e2e/lcm-restart.test.ts',
  'test/integration/vm/docker.test.ts',
  'test/azure-deploy/package.test.ts',
  'test/e2e/self-healing.test.ts',
  'test/e2e/workers.test.ts',
  'test/e2e/partition.test.ts',
  'test/cli/operator.test.ts',
  'test/e2e/api-fuzz.test.ts',
  'test/integration/vm-adapters/ssh-docker.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((suffix) => f.moduleId.endsWith(suffix));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    const rest = await super.sort(files.filter((f) => rank(f) === LONGEST_FIRST.length));
    return [...files.filter((f) => rank(f) < LONGEST_FIRST.length).sort((a, b) => rank(a) - rank(b)), ...rest];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Emulators bind loopback ports and spawn processes: files stay isolated, three at a time on two
    // cores (most of an end-to-end file's time is waiting on VMs, containers and timers, not CPU).
    pool: 'forks',
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    sequence: { sequencer: LongestFirst },
    // Hang guards, not timings (test/helpers/hang-guard.ts): a quiet machine's 60 s times 2.5.
    testTimeout: 150_000,
    hookTimeout: 150_000,
  },
});
