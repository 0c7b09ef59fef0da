/** The function app the host-replay bench loads: one trivial activity, a fan-out and a sequence. */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

/** Time spent inside the activity, read by the bench (same process). */
export const benchState = ((globalThis as unknown as { __lcmBenchHost?: { activityMs: number } }).__lcmBenchHost ??= { activityMs: 0 });

df.app.activity('benchNoop', {
  handler: (n: number) => {
    const t = performance.now();
    const r = n + 1;
    benchState.activityMs += performance.now() - t;
    return r;
  },
});

df.app.orchestration('benchFanOut', function* (context: OrchestrationContext) {
  const n = context.df.getInput() as number;
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push(context.df.callActivity('benchNoop', i));
  const results: number[] = yield context.df.Task.all(tasks);
  return results.length;
});

df.app.orchestration('benchSequence', function* (context: OrchestrationContext) {
  const n = context.df.getInput() as number;
  let x = 0;
  for (let i = 0; i < n; i++) x = yield context.df.callActivity('benchNoop', x);
  return x;
});
