/**
 * Durable state of the local host in one SQLite file (WAL): instances, each execution's history
 * and recorded actions, an inbox of events waiting for the next replay (timers are inbox rows that
 * become visible at their fire time) and the activity work items not yet completed. Every replay
 * commits in one transaction, so a SIGKILL leaves either the old or the new state.
 */
import Database from 'better-sqlite3';
import { parseEvent, serializeEvent, type HistoryEvent } from './history.js';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
export const ACTIVE_STATUSES: readonly RuntimeStatus[] = ['Pending', 'Running'];

export interface InstanceRow {
  instanceId: string;
  executionId: string;
  name: string;
  status: RuntimeStatus;
  input: string;
  output: string | null;
  customStatus: string | null;
  createdTime: string;
  lastUpdatedTime: string;
  parentInstanceId: string | null;
  parentExecutionId: string | null;
  parentTaskId: number | null;
}

export interface InboxRow {
  id: number;
  instanceId: string;
  executionId: string;
  visibleAt: number;
  event: HistoryEvent;
}

export interface WorkRow {
  id: number;
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  input: string;
}

export interface InstanceFilter {
  name?: string;
  runtimeStatus?: string[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
}

interface RawInstance {
  instance_id: string;
  execution_id: string;
  name: string;
  status: RuntimeStatus;
  input: string;
  output: string | null;
  custom_status: string | null;
  created_time: string;
  last_updated_time: string;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
}

function toRow(r: RawInstance): InstanceRow {
  return {
    instanceId: r.instance_id,
    executionId: r.execution_id,
    name: r.name,
    status: r.status,
    input: r.input,
    output: r.output,
    customStatus: r.custom_status,
    createdTime: r.created_time,
    lastUpdatedTime: r.last_updated_time,
    parentInstanceId: r.parent_instance_id,
    parentExecutionId: r.parent_execution_id,
    parentTaskId: r.parent_task_id,
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY, execution_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
  input TEXT NOT NULL, output TEXT, custom_status TEXT, created_time TEXT NOT NULL, last_updated_time TEXT NOT NULL,
  parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_time);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL, execution_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
  PRIMARY KEY (instance_id, execution_id, seq));
CREATE TABLE IF NOT EXISTS actions (
  instance_id TEXT NOT NULL, execution_id TEXT NOT NULL, idx INTEGER NOT NULL, descriptor TEXT NOT NULL,
  PRIMARY KEY (instance_id, execution_id, idx));
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
  visible_at INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, visible_at);
CREATE TABLE IF NOT EXISTS work (
  id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS work_instance ON work(instance_id);
`;

/**
 * Lease columns for several worker processes over one store (added to files made before them):
 * an instance's replay and a work item are each held by one worker until its lease expires, as the
 * Azure Storage backend's partition leases and queue-message visibility timeouts hold them.
 */
const LEASE_COLUMNS: Array<[table: string, column: string, type: string]> = [
  ['instances', 'lease_owner', 'TEXT'],
  ['instances', 'lease_until', 'INTEGER'],
  ['work', 'lease_owner', 'TEXT'],
  ['work', 'lease_until', 'INTEGER'],
  ['work', 'visible_at', 'INTEGER NOT NULL DEFAULT 0'],
];

const CLAIMABLE_WORK = 'visible_at <= @now AND (lease_until IS NULL OR lease_until < @now)';
// Ready for a replay: a visible message, or an active execution that has not run yet (new, continued as new).
const CLAIMABLE_INSTANCE = `(i.lease_until IS NULL OR i.lease_until < @now) AND (
  EXISTS (SELECT 1 FROM inbox b WHERE b.instance_id = i.instance_id AND b.visible_at <= @now)
  OR (i.status IN ('Pending', 'Running') AND NOT EXISTS (SELECT 1 FROM history h WHERE h.instance_id = i.instance_id AND h.execution_id = i.execution_id)))`;

export interface StoreOptions {
  /**
   * Several processes share the file: transactions take the write lock when they begin (BEGIN
   * IMMEDIATE), so a read-then-write never fails on another process's commit in between.
   */
  shared?: boolean;
}

export class HistoryStore {
  private readonly db: Database.Database;
  private readonly stmts;

  private readonly shared: boolean;

  constructor(file: string, options: StoreOptions = {}) {
    this.shared = options.shared ?? false;
    if (this.shared && file === ':memory:') throw new Error('A task hub shared by several worker processes needs a store file; ":memory:" belongs to one process.');
    // A writer of another process holds the lock for one commit at most: wait for it rather than fail.
    this.db = new Database(file, { timeout: 10_000 });
    if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives process kills (only an OS crash may lose the last commits).
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.db
      .transaction(() => {
        for (const [table, column, type] of LEASE_COLUMNS) {
          const has = (this.db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
          if (!has) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
        }
      })
      .immediate();
    const db = this.db;
    this.stmts = {
      getInstance: db.prepare('SELECT * FROM instances WHERE instance_id = ?'),
      upsertInstance: db.prepare(`INSERT INTO instances (instance_id, execution_id, name, status, input, output, custom_status,
        created_time, last_updated_time, parent_instance_id, parent_execution_id, parent_task_id)
        VALUES (@instanceId, @executionId, @name, @status, @input, @output, @customStatus, @createdTime, @lastUpdatedTime,
        @parentInstanceId, @parentExecutionId, @parentTaskId)
        ON CONFLICT(instance_id) DO UPDATE SET execution_id = excluded.execution_id, name = excluded.name, status = excluded.status,
        input = excluded.input, output = excluded.output, custom_status = excluded.custom_status, created_time = excluded.created_time,
        last_updated_time = excluded.last_updated_time, parent_instance_id = excluded.parent_instance_id,
        parent_execution_id = excluded.parent_execution_id, parent_task_id = excluded.parent_task_id`),
      deleteInstance: db.prepare('DELETE FROM instances WHERE instance_id = ?'),
      activeInstances: db.prepare(`SELECT * FROM instances WHERE status IN ('Pending', 'Running')`),
      history: db.prepare('SELECT event FROM history WHERE instance_id = ? AND execution_id = ? ORDER BY seq'),
      appendHistory: db.prepare('INSERT INTO history (instance_id, execution_id, seq, event) VALUES (?, ?, ?, ?)'),
      deleteHistory: db.prepare('DELETE FROM history WHERE instance_id = ?'),
      actions: db.prepare('SELECT descriptor FROM actions WHERE instance_id = ? AND execution_id = ? ORDER BY idx'),
      appendAction: db.prepare('INSERT INTO actions (instance_id, execution_id, idx, descriptor) VALUES (?, ?, ?, ?)'),
      deleteActions: db.prepare('DELETE FROM actions WHERE instance_id = ?'),
      addInbox: db.prepare('INSERT INTO inbox (instance_id, execution_id, visible_at, event) VALUES (?, ?, ?, ?)'),
      visibleInbox: db.prepare('SELECT * FROM inbox WHERE instance_id = ? AND visible_at <= ? ORDER BY visible_at, id'),
      deleteInboxRow: db.prepare('DELETE FROM inbox WHERE id = ?'),
      deleteInbox: db.prepare('DELETE FROM inbox WHERE instance_id = ?'),
      allInbox: db.prepare('SELECT * FROM inbox ORDER BY visible_at, id'),
      inboxFor: db.prepare('SELECT * FROM inbox WHERE instance_id = ? ORDER BY visible_at, id'),
      addWork: db.prepare('INSERT INTO work (instance_id, execution_id, task_id, name, input) VALUES (?, ?, ?, ?, ?)'),
      deleteWorkRow: db.prepare('DELETE FROM work WHERE id = ?'),
      deleteWork: db.prepare('DELETE FROM work WHERE instance_id = ?'),
      allWork: db.prepare('SELECT * FROM work ORDER BY id'),
      addWorkVisible: db.prepare('INSERT INTO work (instance_id, execution_id, task_id, name, input, visible_at) VALUES (?, ?, ?, ?, ?, ?)'),
      claimWork: db.prepare(`UPDATE work SET lease_owner = @owner, lease_until = @until WHERE id IN (
        SELECT id FROM work WHERE ${CLAIMABLE_WORK} ORDER BY id LIMIT @limit) RETURNING *`),
      anyClaimableWork: db.prepare(`SELECT 1 FROM work WHERE ${CLAIMABLE_WORK} LIMIT 1`),
      renewWork: db.prepare('UPDATE work SET lease_until = @until WHERE id = @id AND lease_owner = @owner'),
      claimInstances: db.prepare(`UPDATE instances SET lease_owner = @owner, lease_until = @until WHERE instance_id IN (
        SELECT i.instance_id FROM instances i WHERE ${CLAIMABLE_INSTANCE} LIMIT @limit) RETURNING instance_id`),
      anyClaimableInstance: db.prepare(`SELECT 1 FROM instances i WHERE ${CLAIMABLE_INSTANCE} LIMIT 1`),
      renewInstance: db.prepare('UPDATE instances SET lease_until = @until WHERE instance_id = @id AND lease_owner = @owner'),
      releaseInstance: db.prepare('UPDATE instances SET lease_owner = NULL, lease_until = NULL WHERE instance_id = @id AND lease_owner = @owner'),
      leaseOwner: db.prepare('SELECT lease_owner FROM instances WHERE instance_id = ?'),
      historyLength: db.prepare('SELECT COUNT(*) AS n FROM history WHERE instance_id = ? AND execution_id = ?'),
    };
  }

  transaction<T>(fn: () => T): T {
    const tx = this.db.transaction(fn);
    return this.shared ? tx.immediate() : tx();
  }

  // ------------------------------------------------------------ leases (several worker processes)

  /** Take up to `limit` visible work items whose lease is free or expired; each is held by `owner` until `until`. */
  claimWork(owner: string, now: number, until: number, limit: number): WorkRow[] {
    // A read first: an UPDATE takes the file's write lock even when it matches nothing.
    if (!this.stmts.anyClaimableWork.get({ now })) return [];
    return (this.stmts.claimWork.all({ owner, now, until, limit }) as RawWork[]).map(toWork);
  }

  /** Extend the lease of a work item still held by `owner` (false: it was lost or completed). */
  renewWork(owner: string, id: number, until: number): boolean {
    return this.stmts.renewWork.run({ owner, id, until }).changes > 0;
  }

  /** Take up to `limit` instances ready for a replay whose lease is free or expired. */
  claimInstances(owner: string, now: number, until: number, limit: number): string[] {
    if (!this.stmts.anyClaimableInstance.get({ now })) return [];
    return (this.stmts.claimInstances.all({ owner, now, until, limit }) as { instance_id: string }[]).map((r) => r.instance_id);
  }

  renewInstance(owner: string, id: string, until: number): boolean {
    return this.stmts.renewInstance.run({ owner, id, until }).changes > 0;
  }

  releaseInstance(owner: string, id: string): void {
    this.stmts.releaseInstance.run({ owner, id });
  }

  /** Who holds the instance's lease (expired or not): a replay commits only while its worker still does. */
  leaseOwner(instanceId: string): string | null {
    return (this.stmts.leaseOwner.get(instanceId) as { lease_owner: string | null } | undefined)?.lease_owner ?? null;
  }

  historyLength(instanceId: string, executionId: string): number {
    return (this.stmts.historyLength.get(instanceId, executionId) as { n: number }).n;
  }

  getInstance(instanceId: string): InstanceRow | undefined {
    const r = this.stmts.getInstance.get(instanceId) as RawInstance | undefined;
    return r ? toRow(r) : undefined;
  }

  putInstance(row: InstanceRow): void {
    this.stmts.upsertInstance.run(row);
  }

  activeInstances(): InstanceRow[] {
    return (this.stmts.activeInstances.all() as RawInstance[]).map(toRow);
  }

  listInstances(filter: InstanceFilter = {}): InstanceRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.name) {
      where.push('name = ?');
      args.push(filter.name);
    }
    if (filter.runtimeStatus && filter.runtimeStatus.length > 0) {
      where.push(`status IN (${filter.runtimeStatus.map(() => '?').join(', ')})`);
      args.push(...filter.runtimeStatus);
    }
    if (filter.createdTimeFrom) {
      where.push('created_time >= ?');
      args.push(filter.createdTimeFrom.toISOString());
    }
    if (filter.createdTimeTo) {
      where.push('created_time <= ?');
      args.push(filter.createdTimeTo.toISOString());
    }
    if (filter.instanceIdPrefix) {
      where.push('substr(instance_id, 1, ?) = ?');
      args.push(filter.instanceIdPrefix.length, filter.instanceIdPrefix);
    }
    const sql = `SELECT * FROM instances ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_time DESC, rowid DESC`;
    return (this.db.prepare(sql).all(...args) as RawInstance[]).map(toRow);
  }

  /** Remove everything of an instance (before replacing it with a new execution, or on purge). */
  purge(instanceId: string): void {
    this.stmts.deleteHistory.run(instanceId);
    this.stmts.deleteActions.run(instanceId);
    this.stmts.deleteInbox.run(instanceId);
    this.stmts.deleteWork.run(instanceId);
    this.stmts.deleteInstance.run(instanceId);
  }

  /** Drop the current execution's history, actions, pending events and work (continueAsNew, replace). */
  resetExecution(instanceId: string): void {
    this.stmts.deleteHistory.run(instanceId);
    this.stmts.deleteActions.run(instanceId);
    this.stmts.deleteInbox.run(instanceId);
    this.stmts.deleteWork.run(instanceId);
  }

  loadHistory(instanceId: string, executionId: string): HistoryEvent[] {
    return (this.stmts.history.all(instanceId, executionId) as { event: string }[]).map((r) => parseEvent(r.event));
  }

  appendHistory(instanceId: string, executionId: string, startSeq: number, events: HistoryEvent[]): void {
    events.forEach((e, i) => this.stmts.appendHistory.run(instanceId, executionId, startSeq + i, serializeEvent(e)));
  }

  loadActions<T>(instanceId: string, executionId: string): T[] {
    return (this.stmts.actions.all(instanceId, executionId) as { descriptor: string }[]).map((r) => JSON.parse(r.descriptor) as T);
  }

  appendActions(instanceId: string, executionId: string, startIdx: number, descriptors: unknown[]): void {
    descriptors.forEach((d, i) => this.stmts.appendAction.run(instanceId, executionId, startIdx + i, JSON.stringify(d)));
  }

  addInbox(instanceId: string, executionId: string, visibleAt: number, ev: HistoryEvent): number {
    return Number(this.stmts.addInbox.run(instanceId, executionId, visibleAt, serializeEvent(ev)).lastInsertRowid);
  }

  visibleInbox(instanceId: string, now: number): InboxRow[] {
    return (this.stmts.visibleInbox.all(instanceId, now) as RawInbox[]).map(toInbox);
  }

  allInbox(): InboxRow[] {
    return (this.stmts.allInbox.all() as RawInbox[]).map(toInbox);
  }

  inboxFor(instanceId: string): InboxRow[] {
    return (this.stmts.inboxFor.all(instanceId) as RawInbox[]).map(toInbox);
  }

  /** Drop pending events and work of an instance that stopped running. */
  clearPending(instanceId: string): void {
    this.stmts.deleteInbox.run(instanceId);
    this.stmts.deleteWork.run(instanceId);
  }

  deleteInboxRow(id: number): void {
    this.stmts.deleteInboxRow.run(id);
  }

  addWork(instanceId: string, executionId: string, taskId: number, name: string, input: string, visibleAt?: number): number {
    const r = visibleAt === undefined ? this.stmts.addWork.run(instanceId, executionId, taskId, name, input) : this.stmts.addWorkVisible.run(instanceId, executionId, taskId, name, input, visibleAt);
    return Number(r.lastInsertRowid);
  }

  /** True when the row still existed (the work item was not cancelled meanwhile). */
  deleteWorkRow(id: number): boolean {
    return this.stmts.deleteWorkRow.run(id).changes > 0;
  }

  allWork(): WorkRow[] {
    return (this.stmts.allWork.all() as RawWork[]).map(toWork);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface RawInbox {
  id: number;
  instance_id: string;
  execution_id: string;
  visible_at: number;
  event: string;
}
interface RawWork {
  id: number;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string;
}

function toWork(r: RawWork): WorkRow {
  return { id: r.id, instanceId: r.instance_id, executionId: r.execution_id, taskId: r.task_id, name: r.name, input: r.input };
}

function toInbox(r: RawInbox): InboxRow {
  return { id: r.id, instanceId: r.instance_id, executionId: r.execution_id, visibleAt: r.visible_at, event: parseEvent(r.event) };
}
