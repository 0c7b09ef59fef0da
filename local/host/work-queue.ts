/** A bounded pool for activity executions (maxConcurrentActivityFunctions). */
export class WorkQueue {
  private readonly queue: (() => Promise<void>)[] = [];
  private active = 0;
  private closed = false;

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new Error(`maxConcurrentActivities must be at least 1 (got ${max}).`);
  }

  push(job: () => Promise<void>): void {
    if (this.closed) return;
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.active < this.max && this.queue.length > 0) {
      const job = this.queue.shift() as () => Promise<void>;
      this.active += 1;
      job()
        .catch(() => undefined)
        .finally(() => {
          this.active -= 1;
          this.pump();
        });
    }
  }

  /** Drop queued jobs; running ones are abandoned (their results are ignored by the engine). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}
