import type Database from 'better-sqlite3';
import { connect, inboxFile, openInboxFile, reconnect, type Connection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { ParsedPayloads } from './parsed-payloads.js';
import { PendingGauge } from './pending-gauge.js';
import { InboxPruner } from './pruner.js';
import { storeClosed, storeUnavailable } from './store-errors.js';
import { StoreHealthState, type StoreHealth } from './store-health.js';
import { StoreEvents } from './store-events.js';
import { StoreRecovery } from './store-recovery.js';
import type { AcceptResult, FailedUpdate, InboxStats, InboxStoreOptions, OpenUpdate } from './types.js';
import { insertAccepts, TurnMarks } from './update-rows.js';
import type { Claim, UpdateStore } from './update-store.js';

export type { AcceptResult, FailedUpdate, InboxStats, InboxStoreOptions, OpenUpdate, StoreHealth };
export type { UpdateState } from './types.js';

/**
 * The durable inbox: every update Telegram hands us is committed and fsync'd here before it is
 * acknowledged, so a crash or power cut after the 200 loses nothing; update ids are remembered for
 * the dedupe window, so a re-delivery is acknowledged and ignored, also across restarts.
 *
 * Durability: WAL mode with synchronous=NORMAL, so a COMMIT is a write() into the WAL and never
 * waits on the disk. A write() survives kill -9 (the kernel holds the page), which is all the
 * bookkeeping needs (processing, replied, done, failed, retry times, the polling offset). Only
 * accepts need power-loss durability, because our 200 makes Telegram forget the update for good:
 * WalFlusher fsyncs the WAL off the event loop and accept() resolves only then; bookkeeping is
 * covered by the next fsync within 200 ms. When writes are committed and fsync'd: GroupCommit;
 * what happens when they fail: StoreRecovery.
 *
 * Replays after kill -9 (issue 16): a claim is committed before its handler may send (the
 * dispatcher awaits committed()); a replied mark goes into the commit that also holds the claim
 * of the chat's next update. A replay thus resends at most the updates the killed process had
 * claimed and not marked replied: the sends in flight at the kill, at most one per chat.
 *
 * Nothing is handed to the dispatcher before it is durable: openSince() stops at the last sequence
 * number an fsync has covered. Invariant (issue 18): seq is taken at insert on this one connection,
 * so seq order is commit order; WalFlusher settles batches strictly in commit order with one fsync
 * in flight; so durable pushes arrive in strictly rising seq and every row <= durableSeq is durable.
 * The dispatcher does not rely on that alone (it tracks the rows it holds, not a cursor).
 */
export class InboxStore implements UpdateStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private conn: Connection;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly health: StoreHealthState;
  private readonly recovery: StoreRecovery;
  private readonly commits: GroupCommit;
  private readonly pending: PendingGauge;
  private readonly events = new StoreEvents();
  private readonly marks = new TurnMarks();
  /** Rows the open transaction's marks finished: they leave the pending gauge when it commits (a rollback reopens them). */
  private finishedInTransaction = 0;
  private readonly parsed = new ParsedPayloads();
  /** Highest seq covered by a finished fsync: the dispatcher sees nothing newer. */
  private durableSeq = 0;
  private readonly pruner: InboxPruner;
  private closed = false;

  private constructor(file: string, db: Database.Database, private readonly options: InboxStoreOptions) {
    this.file = file;
    this.conn = connect(file, db);
    this.maxPending = options.maxPending ?? 20_000;
    this.now = options.now ?? Date.now;
    this.health = new StoreHealthState(options.onHealthChange);
    this.pending = new PendingGauge(options.metrics);
    this.recovery = new StoreRecovery({
      file,
      health: this.health,
      logger: options.logger,
      now: this.now,
      probeIntervalMs: options.probeIntervalMs ?? 1_000,
      probeCommit: () => {
        this.write(() => this.conn.statements.setMeta.run('write_probe', String(this.now())));
        this.commits.flush();
      },
      reopen: () => this.reopen(),
    });
    this.commits = new GroupCommit({
      connection: () => this.conn,
      refusal: () => (this.closed ? storeClosed(this.file) : this.conn.flusher.failure ? this.recovery.refusal() : undefined),
      beforeCommit: () => this.writeMarks(),
      insert: (batch) =>
        insertAccepts(this.conn.statements, batch, this.openCount(), this.maxPending, this.now(), (item) => {
          if (item.payload !== undefined) this.parsed.keep(item.updateId, item.payload);
        }),
      committed: (inserted) => {
        this.health.recover('write');
        this.pending.add(inserted.rows.length);
        this.pending.finished(this.finishedInTransaction);
        this.finishedInTransaction = 0;
      },
      durable: (rows) => {
        this.durableSeq = Math.max(this.durableSeq, rows[rows.length - 1]!.seq);
        this.events.durable(rows);
      },
      trouble: (kind, err) => {
        // A failed write was rolled back: its marks went with it. A failed fsync leaves the open
        // transaction and its queued marks alone; the reopen commits them first.
        if (kind === 'write') {
          this.marks.discard();
          this.finishedInTransaction = 0;
        }
        this.parsed.clear(); // rolled back or maybe not on disk: claims read the rows
        return this.recovery.enter(kind, err);
      },
    });
    this.pruner = new InboxPruner({ ...options, now: this.now, write: (run) =>
        this.write(() => {
          this.writeMarks(); // a done mark of this turn is what the prune looks for
          return run(this.conn.statements);
        }),
    });
    this.readCounters();
  }

  /** Opens (creating DATA_DIR and the schema when needed). Throws SG_STORE_UNAVAILABLE with the fix. */
  static open(options: InboxStoreOptions): InboxStore {
    const file = inboxFile(options.dataDir);
    let db: Database.Database | undefined;
    let store: InboxStore | undefined;
    try {
      db = openInboxFile(file);
      const opened = new InboxStore(file, db, options);
      store = opened;
      opened.prune();
      options.logger.info({ file, pending: opened.pendingCount() }, 'Inbox store open');
      return opened;
    } catch (err) {
      try {
        if (store) store.close();
        else db?.close();
      } catch {
        // the original error says more
      }
      throw storeUnavailable(file, err);
    }
  }

  /**
   * Stores one update. Resolves once it is durable ('accepted'), or when its id was seen within the dedupe window
   * ('duplicate'), or 'full' when INBOX_MAX_PENDING updates are unfinished. payloadJson null: decided at intake, nothing
   * to run; stored done (id only) in the same commit, so a re-delivery is a duplicate; never pending, dispatched or 'full'.
   */
  accept(updateId: number, chatId: number | null, payloadJson: string | null, payload?: object): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(storeClosed(this.file));
    // After a failed fsync nothing may be called durable until the reopen (class comment).
    if (this.health.kind === 'fsync') return Promise.reject(this.recovery.refusal());
    return new Promise((resolve, reject) => this.commits.enqueue({ updateId, chatId, payloadJson, payload, resolve, reject }));
  }

  /**
   * Calls `listener` with the updates each group commit accepted, in insertion order, as soon as
   * they are durable (before their accept() resolves), so the dispatcher can queue them without
   * reading them back. Returns the unsubscribe function.
   */
  onDurable(listener: (rows: OpenUpdate[]) => void): () => void {
    return this.events.onDurable(listener);
  }

  /** Calls `listener` after the database was reopened (failed fsync): replay it as at start-up. */
  onReopen(listener: () => void): () => void {
    return this.events.onReopen(listener);
  }

  /** Whether the store can write right now, and why not (readiness, alerts, the dispatcher). */
  writeHealth(): StoreHealth {
    return this.health.current;
  }

  /** Age of the oldest update accepted and never claimed, or undefined: a stall (issue 18) or a backlog shows here first. */
  oldestUnclaimedAgeMs(): number | undefined {
    if (this.closed || !this.conn.db.open) return undefined; // a failed reopen leaves no connection until the next try
    const at = this.conn.statements.oldestUnclaimed.get() as number | undefined;
    return at === undefined ? undefined : Math.max(0, this.now() - at);
  }

  /** Updates accepted and not yet done or failed. */
  pendingCount(): number {
    return this.openCount();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get location(): string {
    return this.file;
  }

  /** For /readyz detail, tests and the bench: depth, failures, transactions accept() used. */
  stats(): InboxStats {
    const failed = this.closed || !this.conn.db.open ? 0 : this.failedCount();
    return {
      pending: this.pending.value,
      failed,
      recentFailures: failed > 0 ? this.recentFailures(5) : [],
      acceptTransactions: this.commits.acceptTransactions,
      walFsyncs: this.conn.flusher.fsyncCount,
    };
  }

  /** Unfinished, durable updates inserted after `afterSeq`, in insertion order. */
  openSince(afterSeq: number, limit = 1000): OpenUpdate[] {
    this.assertOpen();
    this.writeMarks(); // reads see this turn's marks too
    return this.conn.statements.openSince.all(afterSeq, this.durableSeq, limit) as OpenUpdate[];
  }

  /**
   * Claims an update for a handler run: processing, attempts + 1. Returns its payload, or
   * undefined when it is no longer runnable (already replied, done or failed). Nothing may be
   * sent for it before committed() resolves (class comment: replays after kill -9).
   */
  begin(updateId: number): Claim | undefined {
    return this.write(() => {
      // Inserted by this process and never claimed: accepted with 0 attempts, so this is its first
      // run, and the claim is a mark written with the turn's commit (which the run awaits).
      const payload = this.parsed.take(updateId);
      if (payload !== undefined) {
        this.marks.addClaim(updateId);
        return { payload, attempts: 1 };
      }
      // Only a mark of this very update changes what the claim finds (a replied row is not claimed again).
      if (this.marks.has(updateId)) this.writeMarks();
      return this.conn.statements.begin.get(updateId) as Claim | undefined;
    });
  }

  /** Resolves once every write made so far is committed (kill -9 safe, not fsync'd). */
  committed(): Promise<void> {
    return this.commits.committed();
  }

  /** The reply went out: a replay must not send it again. Written with this turn's commit (class comment). */
  markReplied(updateId: number): void {
    this.write(() => this.marks.addReplied(updateId));
  }

  /** Finished. The payload is dropped; the id stays for the dedupe window. */
  markDone(updateId: number): void {
    this.finish(updateId, 'done', null);
  }

  /** Gave up after the last attempt. Kept (with payload) for the failed-retention window. */
  markFailed(updateId: number, error: string): void {
    this.finish(updateId, 'failed', error);
  }

  /** Back to accepted, runnable again at `nextAttemptAt` (epoch ms). */
  scheduleRetry(updateId: number, nextAttemptAt: number, error: string): void {
    this.write(() => this.conn.statements.scheduleRetry.run(nextAttemptAt, error, updateId));
  }

  /** What is written: this turn's failed marks count once the turn commits (a read here writes nothing, so it cannot fail on a mark). */
  failedCount(): number {
    this.assertOpen();
    return (this.conn.statements.countFailed.get() as { n: number }).n;
  }

  /** The most recent failures, newest first (for /readyz detail). */
  recentFailures(limit = 10): FailedUpdate[] {
    this.assertOpen();
    return this.conn.statements.recentFailures.all(limit) as FailedUpdate[];
  }

  getMeta(key: string): string | undefined {
    this.assertOpen();
    return (this.conn.statements.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.write(() => this.conn.statements.setMeta.run(key, value));
  }

  /** Forgets done ids older than the dedupe window and failures past their retention. */
  prune(): number {
    return this.pruner.prune();
  }

  /** Commits what is queued, makes it durable, settles every accept(), then closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.conn.db.open) this.commits.flush();
    this.closed = true;
    this.commits.rejectQueued(storeClosed(this.file));
    this.commits.stop();
    this.parsed.clear();
    this.conn.flusher.close();
    this.pruner.stop();
    this.recovery.stop();
    if (this.conn.db.open) this.conn.db.close();
    this.options.logger.info({ file: this.file, pending: this.pending.value }, 'Inbox store closed');
  }

  private write<T>(statement: () => T): T {
    this.assertOpen();
    return this.commits.write(statement);
  }

  /** After a failed fsync: checkpoint, close, open afresh, replay (StoreRecovery). */
  private reopen(): boolean {
    try {
      this.commits.commitBookkeeping();
      this.parsed.clear();
      this.conn = reconnect(this.conn, this.file);
    } catch (err) {
      this.options.logger.error({ err: storeUnavailable(this.file, err).message }, 'Inbox: reopening the store failed; will try again');
      return false;
    }
    this.readCounters();
    this.options.logger.warn({ file: this.file, pending: this.pending.value }, 'Inbox: store reopened after a failed fsync; replaying unfinished updates');
    this.events.reopened();
    if (this.commits.hasQueuedAccepts) this.commits.flush();
    return true;
  }

  private readCounters(): void {
    this.pending.reset((this.conn.statements.countOpen.get() as { n: number }).n);
    this.finishedInTransaction = 0;
    this.durableSeq = (this.conn.statements.maxSeq.get() as number | null) ?? 0;
  }

  /** Queued for the turn's commit with the other marks (TurnMarks); the pending count follows when they are written. */
  private finish(updateId: number, state: 'done' | 'failed', error: string | null): void {
    this.write(() => this.marks.addFinal(updateId, { state, at: this.now(), error }));
  }

  /** Inside the turn's transaction (the marks are only ever queued inside one). */
  private writeMarks(): void {
    if (this.marks.size === 0) return;
    this.marks.write(this.conn.statements, (rows) => (this.finishedInTransaction += rows));
  }

  /** Unfinished updates, counting this turn's done and failed marks as written (a pure read: it writes nothing). */
  private openCount(): number {
    return Math.max(0, this.pending.value - this.finishedInTransaction - this.marks.finals);
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed(this.file);
  }
}
