/** Every request the ARM emulator answered, for tests and benchmarks that count ARM calls. */
import { isWriteMethod, type OperationKind } from './kinds.js';

export interface ArmLogEntry {
  method: string;
  /** URL path without the query string. */
  path: string;
  kind: OperationKind;
  status: number;
  /** Epoch milliseconds when the request arrived. */
  time: number;
  durationInMs: number;
}

export interface ArmLogCounts {
  /** GET and HEAD requests, async-operation polls included. */
  reads: number;
  /** PUT, POST, DELETE and PATCH requests. */
  writes: number;
  /** Async-operation polls (Azure-AsyncOperation and Location URLs), also counted in `reads`. */
  polls: number;
  /** Requests answered 429. */
  throttled: number;
  byKind: Partial<Record<OperationKind, number>>;
}

export class ArmRequestLog {
  private list: ArmLogEntry[] = [];

  /** A copy of the entries, oldest first. */
  get entries(): ArmLogEntry[] {
    return [...this.list];
  }

  record(entry: ArmLogEntry): void {
    this.list.push(entry);
  }

  counts(filter?: (entry: ArmLogEntry) => boolean): ArmLogCounts {
    const counts: ArmLogCounts = { reads: 0, writes: 0, polls: 0, throttled: 0, byKind: {} };
    for (const entry of this.list) {
      if (filter && !filter(entry)) continue;
      if (isWriteMethod(entry.method)) counts.writes++;
      else counts.reads++;
      if (entry.kind === 'operation.poll') counts.polls++;
      if (entry.status === 429) counts.throttled++;
      counts.byKind[entry.kind] = (counts.byKind[entry.kind] ?? 0) + 1;
    }
    return counts;
  }

  reset(): void {
    this.list = [];
  }
}
