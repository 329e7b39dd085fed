import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { checkpointFully, openInboxDatabase } from './database.js';
import { prepareStatements } from './schema.js';
import { storeClosed, storeUnavailable } from './store-errors.js';
import { StoreHealthState, type StoreHealth } from './store-health.js';
import { WalFlusher } from './wal-flusher.js';

export type { StoreHealth };

export type AcceptResult = 'accepted' | 'duplicate' | 'full';

/** accepted -> processing -> replied -> done, or back to accepted for a retry, or failed. */
export type UpdateState = 'accepted' | 'processing' | 'replied' | 'done' | 'failed';

/** An unfinished update as the dispatcher schedules it (no payload: it may be large). */
export interface OpenUpdate {
  /** Insertion order; the dispatcher's cursor. */
  seq: number;
  updateId: number;
  chatId: number | null;
  state: Exclude<UpdateState, 'done' | 'failed'>;
  attempts: number;
  /** Epoch ms before which a retry must not start (0: now). */
  nextAttemptAt: number;
}

export interface FailedUpdate {
  updateId: number;
  chatId: number | null;
  attempts: number;
  error: string | null;
  finishedAt: number;
}

export interface InboxStats {
  pending: number;
  failed: number;
  recentFailures: FailedUpdate[];
  acceptTransactions: number;
  /** fsync(2) calls of the WAL so far; with group commit far fewer than accept transactions under load. */
  walFsyncs: number;
}

export interface InboxStoreOptions {
  /** DATA_DIR; created when missing. The database is DATA_DIR/inbox.sqlite. */
  dataDir: string;
  logger: Logger;
  /** Unfinished updates at which accept() answers 'full' (the webhook answers 503). Default 20000. */
  maxPending?: number;
  metrics?: Metrics;
  /** How long a finished update id is remembered for dedupe. Default 25 h (Telegram retries for 24 h). */
  dedupeWindowMs?: number;
  /** How long failed updates are kept for inspection. Default 7 days. */
  failedRetentionMs?: number;
  /** How often pruning runs. Default 1 h; 0 turns the timer off (call prune() yourself). */
  pruneIntervalMs?: number;
  /** Clock (tests of retention). Default Date.now. */
  now?: () => number;
  /** Told when the store stops or starts being able to write (readiness, alerts). */
  onHealthChange?: (health: StoreHealth) => void;
  /** While in write trouble, how often a probe commit (or a reopen after a failed fsync) is tried. Default 1000 ms. */
  probeIntervalMs?: number;
}

interface PendingAccept {
  updateId: number;
  chatId: number | null;
  payloadJson: string;
  resolve: (result: AcceptResult) => void;
  reject: (err: unknown) => void;
}

/** One group commit's outcome: a result per accept() call, and the rows it inserted. */
interface InsertedBatch {
  results: AcceptResult[];
  rows: OpenUpdate[];
}

const HOUR_MS = 3_600_000;

/**
 * The durable inbox: every update Telegram hands us is committed and fsync'd here before it is
 * acknowledged, so a crash or power cut after the 200 loses nothing; update ids are remembered for
 * the dedupe window, so a re-delivery is acknowledged and ignored, also across restarts.
 *
 * Durability: WAL mode with synchronous=NORMAL for every statement, so a COMMIT is a write() into
 * the WAL and never waits on the disk. A write() survives kill -9 (the kernel holds the page), which
 * is all the bookkeeping needs: processing, replied, done, failed, retry times and the polling
 * offset. Only accepts need power-loss durability, because our 200 makes Telegram forget the
 * update for good; they get it from WalFlusher, which fsyncs the WAL in libuv's threadpool and
 * resolves accept() only then. Bookkeeping commits are fsync'd as well, but
 * nobody waits for that: a power cut (not a kill) in the millisecond before it can undo a
 * "replied" mark and repeat that reply. Waiting would not close the gap anyway: Telegram's
 * sendMessage has no idempotency key, so the window between its answer and our commit remains.
 *
 * Throughput: better-sqlite3 is synchronous, so every write runs on the event loop, and each
 * commit rewrites whole pages (the table's and indexes' last leaves). So writes share
 * transactions: the first write opens one, and it is committed, together with the accepts queued
 * meanwhile, at the end of the turn when no fsync is running (a setImmediate, after the poll phase
 * has read every request that arrived), else the moment the running fsync finishes, which then
 * starts the next one (pipelined group commit). A busy disk thus gets fewer, larger commits and
 * fewer bytes per accepted update, which is what makes an fsync slow on a loaded VPS disk; accepts
 * lose no time by waiting, since their fsync could not have started earlier.
 *
 * Nothing is handed to the dispatcher before it is durable: openSince() stops at the last sequence
 * number an fsync has covered. Invariant (issue 18): seq is taken at insert on this one connection,
 * so seq order is commit order; WalFlusher settles batches strictly in commit order with one fsync
 * in flight; so durable pushes arrive in strictly rising seq and every row <= durableSeq is durable.
 * The dispatcher does not rely on that alone (it tracks the rows it holds, not a cursor).
 *
 * Write trouble: a failed commit (disk full, read-only) rejects that turn's accepts (503) and puts
 * the store in trouble (health(), onHealthChange: /readyz 503, one alert) until a commit succeeds
 * again; a timer probes with a tiny commit, so it recovers by itself once space is freed.
 *
 * A failed fsync is not retried (see WalFlusher.failure): its batch is answered 503, every accept
 * is refused, and the store reopens the database: a full checkpoint, which copies into the
 * database file what this connection reads and fsyncs it (or fails, and is tried again), then a
 * fresh connection and WAL. What the reopened file holds is then durable, and the dispatcher
 * replays it as at start-up (onReopen), so the rows of the failed batch run once and their
 * redelivery is a true duplicate; rows the kernel lost are simply new when Telegram redelivers.
 * A damaged file fails the reopen's quick_check and keeps the store unready with the fix named.
 */
export class InboxStore {
  readonly file: string;
  private db: Database.Database;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly dedupeWindowMs: number;
  private readonly failedRetentionMs: number;
  private statements;
  private flusher: WalFlusher;
  private readonly health: StoreHealthState;
  private readonly reopenListeners = new Set<() => void>();
  private probeTimer: NodeJS.Timeout | undefined;
  private batch: PendingAccept[] = [];
  private pending: number;
  /** Highest seq covered by a finished fsync: the dispatcher sees nothing newer. */
  private durableSeq: number;
  private flushScheduled = false;
  private readonly durableListeners = new Set<(rows: OpenUpdate[]) => void>();
  private pruneTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private acceptTransactions = 0;

  private constructor(file: string, db: Database.Database, private readonly options: InboxStoreOptions) {
    this.file = file;
    this.db = db;
    this.maxPending = options.maxPending ?? 20_000;
    this.now = options.now ?? Date.now;
    this.dedupeWindowMs = options.dedupeWindowMs ?? 25 * HOUR_MS;
    this.failedRetentionMs = options.failedRetentionMs ?? 7 * 24 * HOUR_MS;
    this.statements = prepareStatements(db);
    this.pending = (this.statements.countOpen.get() as { n: number }).n;
    this.durableSeq = (this.statements.maxSeq.get() as number | null) ?? 0;
    this.flusher = new WalFlusher(file);
    this.health = new StoreHealthState(options.onHealthChange);
    this.publishPending();
  }

  /** Opens (creating DATA_DIR and the schema when needed). Throws SG_STORE_UNAVAILABLE with the fix. */
  static open(options: InboxStoreOptions): InboxStore {
    const file = path.join(path.resolve(options.dataDir), 'inbox.sqlite');
    let db: Database.Database | undefined;
    let store: InboxStore | undefined;
    try {
      // 0700: the inbox holds every message's full text.
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      db = openInboxDatabase(file);
      const opened = new InboxStore(file, db, options);
      store = opened;
      opened.prune();
      const every = options.pruneIntervalMs ?? HOUR_MS;
      if (every > 0) opened.pruneTimer = setInterval(() => opened.pruneQuietly(), every).unref();
      options.logger.info({ file, pending: opened.pending }, 'Inbox store open');
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
   * Stores one update. Resolves once it is durable ('accepted'), or when its id was seen within
   * the dedupe window ('duplicate'), or 'full' when INBOX_MAX_PENDING updates are unfinished.
   */
  accept(updateId: number, chatId: number | null, payloadJson: string): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(storeClosed(this.file));
    // After a failed fsync nothing may be called durable until the reopen (class comment).
    if (this.health.kind === 'fsync') return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => {
      this.batch.push({ updateId, chatId, payloadJson, resolve, reject });
      this.requestFlush();
    });
  }

  /**
   * Calls `listener` with the updates each group commit accepted, in insertion order, as soon as
   * they are durable (before their accept() resolves), so the dispatcher can queue them without
   * reading them back. Returns the unsubscribe function.
   */
  onDurable(listener: (rows: OpenUpdate[]) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /** Calls `listener` after the database was reopened (failed fsync): replay it as at start-up. */
  onReopen(listener: () => void): () => void {
    this.reopenListeners.add(listener);
    return () => this.reopenListeners.delete(listener);
  }

  /** Whether the store can write right now, and why not (readiness, alerts, the dispatcher). */
  writeHealth(): StoreHealth {
    return this.health.current;
  }

  /**
   * Age of the oldest update accepted and never claimed by a handler, or undefined when there is
   * none: a stall (issue 18) or a backlog shows here first.
   */
  oldestUnclaimedAgeMs(): number | undefined {
    if (!this.usable) return undefined;
    const at = this.statements.oldestUnclaimed.get() as number | undefined;
    return at === undefined ? undefined : Math.max(0, this.now() - at);
  }

  /** Updates accepted and not yet done or failed. */
  pendingCount(): number {
    return this.pending;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Open and connected (a failed reopen leaves no connection until the next try). */
  private get usable(): boolean {
    return !this.closed && this.db.open;
  }

  /** For /readyz detail, tests and the bench: depth, failures, transactions accept() used. */
  stats(): InboxStats {
    const failed = this.usable ? this.failedCount() : 0;
    return {
      pending: this.pending,
      failed,
      recentFailures: failed > 0 ? this.recentFailures(5) : [],
      acceptTransactions: this.acceptTransactions,
      walFsyncs: this.flusher.fsyncCount,
    };
  }

  /** Unfinished, durable updates inserted after `afterSeq`, in insertion order. */
  openSince(afterSeq: number, limit = 1000): OpenUpdate[] {
    this.assertOpen();
    return this.statements.openSince.all(afterSeq, this.durableSeq, limit) as OpenUpdate[];
  }

  /**
   * Claims an update for a handler run: processing, attempts + 1. Returns its payload, or
   * undefined when it is no longer runnable (already replied, done or failed).
   */
  begin(updateId: number): { payloadJson: string; attempts: number } | undefined {
    return this.write(() => this.statements.begin.get(updateId) as { payloadJson: string; attempts: number } | undefined);
  }

  /**
   * The reply went out: a replay must not send it again. Committed at once (safe from kill -9,
   * not fsync'd: see the class comment), not with the turn: the chat's next update may be sent
   * before the turn ends, and a kill then would repeat both replies instead of at most this one.
   */
  markReplied(updateId: number): void {
    this.write(() => this.statements.markReplied.run(updateId));
    this.flush();
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
    this.write(() => this.statements.scheduleRetry.run(nextAttemptAt, error, updateId));
  }

  failedCount(): number {
    this.assertOpen();
    return (this.statements.countFailed.get() as { n: number }).n;
  }

  /** The most recent failures, newest first (for /readyz detail). */
  recentFailures(limit = 10): FailedUpdate[] {
    this.assertOpen();
    return this.statements.recentFailures.all(limit) as FailedUpdate[];
  }

  getMeta(key: string): string | undefined {
    this.assertOpen();
    return (this.statements.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.write(() => this.statements.setMeta.run(key, value));
  }

  /** Forgets done ids older than the dedupe window and failures past their retention. */
  prune(): number {
    const now = this.now();
    const { done, failed } = this.write(() => ({
      done: this.statements.pruneDone.run(now - this.dedupeWindowMs).changes,
      failed: this.statements.pruneFailed.run(now - this.failedRetentionMs).changes,
    }));
    if (done + failed > 0) this.options.logger.debug({ done, failed }, 'Inbox pruned');
    return done + failed;
  }

  /** Commits what is queued, makes it durable, settles every accept(), then closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.db.open) this.flush();
    this.closed = true;
    this.flusher.close();
    clearInterval(this.pruneTimer);
    clearTimeout(this.probeTimer);
    if (this.db.open) this.db.close();
    this.options.logger.info({ file: this.file, pending: this.pending }, 'Inbox store closed');
  }

  /** Runs one write inside this turn's transaction, opening it (and scheduling its commit) if needed. */
  private write<T>(statement: () => T): T {
    this.assertOpen();
    if (!this.db.inTransaction) {
      this.statements.beginTransaction.run();
      this.requestFlush();
    }
    return statement();
  }

  /** Commit at the end of this turn if the disk is idle; else the running fsync's end commits (see the class comment). */
  private requestFlush(): void {
    if (this.flushScheduled || !this.flusher.idle) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Inserts the queued accepts, commits everything, hands the accepts to the flusher. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) {
      this.rejectAll(this.takeBatch(), storeClosed(this.file));
      return;
    }
    let batch = this.takeBatch();
    if (this.flusher.failure && batch.length > 0) {
      this.rejectAll(batch, this.unavailable());
      batch = [];
    }
    let inserted: InsertedBatch = { results: [], rows: [] };
    let committed = false;
    try {
      if (batch.length > 0) {
        if (!this.db.inTransaction) this.statements.beginTransaction.run();
        inserted = this.insertBatch(batch);
      }
      if (this.db.inTransaction) {
        this.statements.commit.run();
        committed = true;
      }
    } catch (err) {
      if (this.db.inTransaction) this.statements.rollback.run();
      // The bookkeeping of this turn is lost with it: those updates run again (at least once).
      this.options.logger.error({ err }, 'Inbox: commit failed; this turn\'s writes were rolled back');
      const failure = storeUnavailable(this.file, err);
      this.rejectAll(batch, failure);
      this.enterTrouble('write', failure.message);
      return;
    }
    if (!committed) return;
    this.health.recover('write');
    if (batch.length > 0) {
      this.acceptTransactions++;
      this.pending += inserted.rows.length;
      this.publishPending();
    }
    // The reopen's checkpoint makes this commit durable; this flusher will never sync again.
    if (this.flusher.failure) return;
    // Bookkeeping-only commits are fsync'd too (nobody waits for it): it keeps what a power cut can
    // undo to the last millisecond or so instead of the kernel's writeback delay (up to ~30 s).
    this.flusher.whenDurable((err) => {
      this.settle(batch, inserted, err);
      // What queued up during this fsync: commit it now and start the next one.
      if (this.batch.length > 0 || this.db.inTransaction) this.flush();
    });
  }

  /** The batch's fsync finished: hand its rows to the dispatcher, then answer its accept() calls. */
  private settle(batch: PendingAccept[], { results, rows }: InsertedBatch, err: Error | null): void {
    if (err) {
      // Committed but maybe not on disk: no 200, so Telegram redelivers; the reopen decides what
      // the file really holds before any accept is answered again (class comment).
      if (this.health.kind !== 'fsync') {
        this.options.logger.error({ err }, 'Inbox: fsync of the write-ahead log failed; refusing updates and reopening the store');
      }
      const failure = storeUnavailable(this.file, err);
      this.rejectAll(batch, failure);
      this.enterTrouble('fsync', `fsync of the write-ahead log failed: ${err.message}`);
      return;
    }
    if (rows.length > 0) {
      this.durableSeq = Math.max(this.durableSeq, rows[rows.length - 1]!.seq);
      for (const listener of this.durableListeners) listener(rows);
    }
    batch.forEach((item, i) => item.resolve(results[i]!));
  }

  private enterTrouble(kind: 'write' | 'fsync', reason: string): void {
    this.health.fail(kind, reason, this.now());
    this.scheduleProbe(kind === 'fsync' ? 0 : undefined);
  }

  private scheduleProbe(delayMs = this.options.probeIntervalMs ?? 1_000): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.probe();
    }, delayMs);
  }

  /** In trouble: reopen after a failed fsync, else try a tiny commit; again later if it fails. */
  private probe(): void {
    if (this.closed || !this.health.kind) return;
    if (this.health.kind === 'fsync') this.reopen();
    else {
      try {
        this.write(() => this.statements.setMeta.run('write_probe', String(this.now())));
        this.flush(); // a success clears the trouble
      } catch (err) {
        this.options.logger.debug({ err }, 'Inbox: write probe failed');
      }
    }
    if (this.health.kind) this.scheduleProbe();
  }

  /** After a failed fsync: checkpoint, close, open afresh, replay (see the class comment). */
  private reopen(): void {
    try {
      if (this.db.open) {
        if (this.db.inTransaction) this.statements.commit.run();
        checkpointFully(this.db);
        this.flusher.close();
        this.db.close();
      }
      this.db = openInboxDatabase(this.file);
      this.statements = prepareStatements(this.db);
      this.flusher = new WalFlusher(this.file);
    } catch (err) {
      this.options.logger.error({ err: storeUnavailable(this.file, err).message }, 'Inbox: reopening the store failed; will try again');
      return;
    }
    this.pending = (this.statements.countOpen.get() as { n: number }).n;
    this.durableSeq = (this.statements.maxSeq.get() as number | null) ?? 0;
    this.publishPending();
    this.health.recover();
    this.options.logger.warn({ file: this.file, pending: this.pending }, 'Inbox: store reopened after a failed fsync; replaying unfinished updates');
    for (const listener of this.reopenListeners) listener();
    if (this.batch.length > 0) this.requestFlush();
  }

  private unavailable(): Error {
    return storeUnavailable(this.file, new Error(this.health.current.reason ?? 'store in trouble'));
  }

  private takeBatch(): PendingAccept[] {
    const batch = this.batch;
    this.batch = [];
    return batch;
  }

  private rejectAll(batch: PendingAccept[], err: unknown): void {
    for (const item of batch) item.reject(err);
  }

  /** Inside the open transaction. */
  private insertBatch(batch: PendingAccept[]): InsertedBatch {
    const { insert, exists } = this.statements;
    const acceptedAt = this.now();
    const rows: OpenUpdate[] = [];
    const results = batch.map((item): AcceptResult => {
      // A re-delivery is answered 200 even when full: a 503 would only make Telegram retry it.
      if (this.pending + rows.length >= this.maxPending) return exists.get(item.updateId) ? 'duplicate' : 'full';
      const info = insert.run(item.updateId, item.chatId, item.payloadJson, acceptedAt);
      if (info.changes === 0) return 'duplicate';
      const seq = Number(info.lastInsertRowid);
      rows.push({ seq, updateId: item.updateId, chatId: item.chatId, state: 'accepted', attempts: 0, nextAttemptAt: 0 });
      return 'accepted';
    });
    return { results, rows };
  }

  private finish(updateId: number, state: 'done' | 'failed', error: string | null): void {
    const { markDone, markFailed } = this.statements;
    const changes = this.write(() => (state === 'done' ? markDone.run(this.now(), updateId) : markFailed.run(this.now(), error, updateId))).changes;
    if (changes > 0) {
      this.pending = Math.max(0, this.pending - 1);
      this.publishPending();
    }
  }

  private pruneQuietly(): void {
    try {
      this.prune();
    } catch (err) {
      this.options.logger.warn({ err }, 'Inbox pruning failed; will try again');
    }
  }

  private publishPending(): void {
    this.options.metrics?.inboxPending.set(this.pending);
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed(this.file);
  }
}
