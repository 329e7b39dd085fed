import type { Connection } from './connection.js';
import type { StoreTroubleKind } from './store-health.js';
import type { InsertedBatch, OpenUpdate, PendingAccept } from './types.js';

/** What the scheduler needs from the store; it owns no state of its own besides the queue. */
export interface GroupCommitHost {
  connection(): Connection;
  /** The error for accepts that cannot be taken (closed, or a failed fsync before the reopen); undefined when they can. */
  refusal(): Error | undefined;
  /** Inside the transaction, before the accepts' insert and COMMIT: writes the store deferred to the commit (marks first: a done mark frees the room the insert's 'full' check counts). */
  beforeCommit(): void;
  /** Inside the open transaction: inserts the queued accepts. */
  insert(batch: PendingAccept[]): InsertedBatch;
  /** A commit succeeded (with the rows it inserted; none for bookkeeping only). */
  committed(inserted: InsertedBatch): void;
  /** The fsync after a commit finished: these rows are durable (before their accept() resolves). */
  durable(rows: OpenUpdate[]): void;
  /** A commit (`write`) or the WAL's fsync (`fsync`) failed; the accepts involved are rejected already. */
  trouble(kind: StoreTroubleKind, err: Error): Error;
}

/** At most this long between a bookkeeping-only commit and an fsync that covers it. */
const BOOKKEEPING_SYNC_MS = 200;

interface CommitWaiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Commit scheduling for the inbox (see InboxStore's class comment for why): every write of a turn
 * of the event loop shares one transaction. At the end of the turn (a setImmediate, after the
 * poll phase read every request that arrived) the transaction is committed with the accepts
 * queued meanwhile and handed to the WAL flusher, if no fsync is running; if one is, only the
 * bookkeeping is committed now (it needs no fsync to be waited for) and the accepts wait for the
 * running fsync's end, which then commits them and starts the next fsync (pipelined group commit).
 *
 * `committed()` lets a caller wait for its writes to be in the WAL (kill -9 safe) without an
 * fsync: the dispatcher waits for its claim (and the chat's previous replied mark) to be
 * committed before it lets a handler send anything, which is what bounds replays after a crash.
 */
export class GroupCommit {
  private batch: PendingAccept[] = [];
  private turnEndScheduled = false;
  private waiters: CommitWaiter[] = [];
  private bookkeepingTimer: NodeJS.Timeout | undefined;
  /** The flusher's fsync count at the last bookkeeping-only commit: a later fsync covers it. */
  private fsyncsAtBookkeeping = 0;
  /** Commits that carried accepts (tests and the bench: how well accepts group). */
  acceptTransactions = 0;

  constructor(private readonly host: GroupCommitHost) {}

  /** Queues one accept for the next group commit. */
  enqueue(item: PendingAccept): void {
    this.batch.push(item);
    this.scheduleTurnEnd();
  }

  get hasQueuedAccepts(): boolean {
    return this.batch.length > 0;
  }

  /** Runs one write inside this turn's transaction, opening it (and scheduling its commit) if needed. */
  write<T>(statement: () => T): T {
    const { db, statements } = this.host.connection();
    if (!db.inTransaction) statements.beginTransaction.run();
    this.scheduleTurnEnd();
    return statement();
  }

  /** Resolves once every write made so far is committed (not fsync'd); rejects if that commit fails. */
  committed(): Promise<void> {
    if (!this.host.connection().db.inTransaction) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Inserts the queued accepts, commits everything, hands the accepts to the flusher. */
  flush(): void {
    let batch = this.takeBatch();
    const refusal = this.host.refusal();
    if (refusal) {
      rejectAll(batch, refusal);
      batch = [];
    }
    if (batch.length === 0) {
      this.commitBookkeeping();
      return;
    }
    const { db, flusher } = this.host.connection();
    if (!db.open) return;
    const inserted = this.commitTransaction(batch);
    if (!inserted) return;
    this.acceptTransactions++;
    // The reopen's checkpoint makes this commit durable; this flusher will never sync again.
    if (flusher.failure) return;
    flusher.whenDurable((err) => {
      this.settle(batch, inserted, err);
      this.flushIfPending();
    });
  }

  /** Rejects every queued accept (the store closed). */
  rejectQueued(err: Error): void {
    rejectAll(this.takeBatch(), err);
    this.settleWaiters(err);
  }

  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    setImmediate(() => {
      this.turnEndScheduled = false;
      this.endTurn();
    });
  }

  /** The disk idle: the full group commit. An fsync running: the bookkeeping only (class comment). */
  private endTurn(): void {
    if (this.host.connection().flusher.idle || this.host.refusal()) this.flush();
    else this.commitBookkeeping();
  }

  /**
   * Commits the open transaction's bookkeeping alone, leaving queued accepts for their group
   * commit; also before a reopen replaces the connection, so waiters and deferred marks are not
   * dropped with it.
   */
  commitBookkeeping(): void {
    const { db, flusher } = this.host.connection();
    if (!db.open || !db.inTransaction) return;
    if (!this.commitTransaction([])) return;
    // After a failed fsync the reopen's checkpoint makes this commit durable, not this flusher.
    if (!flusher.failure) this.syncBookkeepingLater();
  }

  /**
   * Inserts `batch` (when it has accepts) into this turn's transaction and commits it. Undefined
   * when that failed: the batch and the commit waiters are rejected, the store is in trouble.
   */
  private commitTransaction(batch: PendingAccept[]): InsertedBatch | undefined {
    const { db, statements } = this.host.connection();
    let inserted: InsertedBatch = { results: [], rows: [] };
    try {
      if (batch.length > 0 && !db.inTransaction) statements.beginTransaction.run();
      this.host.beforeCommit();
      if (batch.length > 0) inserted = this.host.insert(batch);
      statements.commit.run();
    } catch (err) {
      if (db.inTransaction) statements.rollback.run();
      const failure = this.host.trouble('write', err as Error);
      rejectAll(batch, failure);
      this.settleWaiters(failure);
      return undefined;
    }
    this.host.committed(inserted);
    this.settleWaiters(undefined);
    return inserted;
  }

  /**
   * Bookkeeping needs no fsync of its own (a kill -9 cannot undo a write()), only a bound on what
   * a power cut can undo: an fsync that starts after the last bookkeeping commit covers it (the
   * next accept's, usually), and if none has started within BOOKKEEPING_SYNC_MS, one is started.
   * An fsync per bookkeeping commit would keep the disk busy for nothing and make the next
   * accepts wait behind it (issue 16).
   */
  private syncBookkeepingLater(): void {
    this.fsyncsAtBookkeeping = this.host.connection().flusher.fsyncCount;
    if (this.bookkeepingTimer) return;
    this.bookkeepingTimer = setTimeout(() => {
      this.bookkeepingTimer = undefined;
      const { db, flusher } = this.host.connection();
      if (flusher.fsyncCount > this.fsyncsAtBookkeeping || flusher.failure || !db.open) return;
      flusher.whenDurable(() => this.flushIfPending());
    }, BOOKKEEPING_SYNC_MS);
    this.bookkeepingTimer.unref();
  }

  /** After an fsync: what queued up meanwhile is committed now and starts the next one. */
  private flushIfPending(): void {
    if (this.batch.length > 0 || this.host.connection().db.inTransaction) this.flush();
  }

  /** Closing: the flusher's close() fsyncs everything anyway. */
  stop(): void {
    clearTimeout(this.bookkeepingTimer);
    this.bookkeepingTimer = undefined;
  }

  /** The batch's fsync finished: hand its rows to the dispatcher, then answer its accept() calls. */
  private settle(batch: PendingAccept[], { results, rows }: InsertedBatch, err: Error | null): void {
    if (err) {
      // Committed but maybe not on disk: no 200, so Telegram redelivers; the reopen decides what
      // the file really holds before any accept is answered again (InboxStore's class comment).
      rejectAll(batch, this.host.trouble('fsync', err));
      return;
    }
    if (rows.length > 0) this.host.durable(rows);
    batch.forEach((item, i) => item.resolve(results[i]!));
  }

  private settleWaiters(err: Error | undefined): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (err) waiter.reject(err);
      else waiter.resolve();
    }
  }

  private takeBatch(): PendingAccept[] {
    const batch = this.batch;
    this.batch = [];
    return batch;
  }
}

function rejectAll(batch: PendingAccept[], err: unknown): void {
  for (const item of batch) item.reject(err);
}
