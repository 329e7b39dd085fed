import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { INBOX_SCHEMA, prepareStatements } from './schema.js';
import { storeClosed, storeUnavailable } from './store-errors.js';
import { WalFlusher } from './wal-flusher.js';

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
 * number an fsync has covered.
 */
export class InboxStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly dedupeWindowMs: number;
  private readonly failedRetentionMs: number;
  private readonly statements;
  private readonly flusher: WalFlusher;
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
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      // Catches a damaged file at start instead of at the first unlucky page read mid-request.
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw Object.assign(new Error(`integrity check failed: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      db.exec(INBOX_SCHEMA);
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

  /** Updates accepted and not yet done or failed. */
  pendingCount(): number {
    return this.pending;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** For /readyz detail, tests and the bench: depth, failures, transactions accept() used. */
  stats(): InboxStats {
    const failed = this.closed ? 0 : this.failedCount();
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
    this.flush();
    this.closed = true;
    this.flusher.close();
    clearInterval(this.pruneTimer);
    this.db.close();
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
    const batch = this.takeBatch();
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
      // The bookkeeping of this turn is lost with it; those updates run again after a restart.
      this.options.logger.error({ err }, 'Inbox: commit failed; this turn\'s writes were rolled back');
      this.rejectAll(batch, storeUnavailable(this.file, err));
      return;
    }
    if (!committed) return;
    if (batch.length > 0) {
      this.acceptTransactions++;
      this.pending += inserted.rows.length;
      this.publishPending();
    }
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
    if (err && batch.length === 0) {
      this.options.logger.warn({ err }, 'Inbox: fsync of the write-ahead log failed');
      return;
    }
    if (err) {
      // Committed but maybe not on disk: no 200, so Telegram redelivers and dedupe answers it.
      this.options.logger.error({ err }, 'Inbox: fsync of the write-ahead log failed');
      this.rejectAll(batch, storeUnavailable(this.file, err));
      return;
    }
    if (rows.length > 0) {
      this.durableSeq = Math.max(this.durableSeq, rows[rows.length - 1]!.seq);
      for (const listener of this.durableListeners) listener(rows);
    }
    batch.forEach((item, i) => item.resolve(results[i]!));
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
