import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { INBOX_SCHEMA, prepareStatements } from './schema.js';
import { storeClosed, storeUnavailable } from './store-errors.js';

export type AcceptResult = 'accepted' | 'duplicate' | 'full';

/** accepted -> processing -> replied -> done, or back to accepted for a retry, or failed. */
export type UpdateState = 'accepted' | 'processing' | 'replied' | 'done' | 'failed';

/** An unfinished update as the dispatcher schedules it (no payload: it may be large). */
export interface OpenUpdate {
  /** Insertion order; the dispatcher's cursor. */
  seq: number;
  updateId: number;
  chatId: number | null;
  state: 'accepted' | 'processing' | 'replied';
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

const HOUR_MS = 3_600_000;

/**
 * The durable inbox: every update Telegram hands us is committed (fsync'd) here before it is
 * acknowledged, so a crash after the 200 loses nothing; update ids are remembered for the dedupe
 * window, so a re-delivery is acknowledged and ignored, also across restarts.
 *
 * Durability: WAL mode. Writes whose loss would lose or double a message (accept, replied,
 * failed) commit with synchronous=FULL (the WAL is fsync'd before commit returns). Bookkeeping
 * whose loss is harmless (processing, done, retry time, polling offset) commits with NORMAL:
 * after a power cut it may roll back to the previous state, which replay handles. The WAL is
 * append-only, so any later FULL commit also makes the earlier NORMAL ones durable, in order.
 *
 * Throughput: better-sqlite3 is synchronous, so one fsync blocks the event loop. accept() calls
 * made in the same turn of the loop are collected and committed in one transaction (one fsync)
 * on setImmediate, after the poll phase has read every request that arrived meanwhile.
 */
export class InboxStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly dedupeWindowMs: number;
  private readonly failedRetentionMs: number;
  private readonly statements;
  private batch: PendingAccept[] = [];
  private pending: number;
  private syncMode: 'FULL' | 'NORMAL' | undefined;
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
    this.publishPending();
  }

  /** Opens (creating DATA_DIR and the schema when needed). Throws SG_STORE_UNAVAILABLE with the fix. */
  static open(options: InboxStoreOptions): InboxStore {
    const file = path.join(path.resolve(options.dataDir), 'inbox.sqlite');
    let db: Database.Database | undefined;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      // Catches a damaged file at start instead of at the first unlucky page read mid-request.
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw Object.assign(new Error(`integrity check failed: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      db.exec(INBOX_SCHEMA);
      const store = new InboxStore(file, db, options);
      store.prune();
      const every = options.pruneIntervalMs ?? HOUR_MS;
      if (every > 0) store.pruneTimer = setInterval(() => store.pruneQuietly(), every).unref();
      options.logger.info({ file, pending: store.pending }, 'Inbox store open');
      return store;
    } catch (err) {
      db?.close();
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
      if (this.batch.length === 1) setImmediate(() => this.flushAccepts());
    });
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
    };
  }

  /** Unfinished updates inserted after `afterSeq`, in insertion order. */
  openSince(afterSeq: number, limit = 1000): OpenUpdate[] {
    this.assertOpen();
    return this.statements.openSince.all(afterSeq, limit) as OpenUpdate[];
  }

  /**
   * Claims an update for a handler run: processing, attempts + 1. Returns its payload, or
   * undefined when it is no longer runnable (already replied, done or failed).
   */
  begin(updateId: number): { payloadJson: string; attempts: number } | undefined {
    this.assertOpen();
    this.setSync('NORMAL');
    return this.statements.begin.get(updateId) as { payloadJson: string; attempts: number } | undefined;
  }

  /** The reply went out: a replay must not send it again. Durable before it returns. */
  markReplied(updateId: number): void {
    this.assertOpen();
    this.setSync('FULL');
    this.statements.markReplied.run(updateId);
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
    this.assertOpen();
    this.setSync('NORMAL');
    this.statements.scheduleRetry.run(nextAttemptAt, error, updateId);
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
    this.assertOpen();
    this.setSync('NORMAL');
    this.statements.setMeta.run(key, value);
  }

  /** Forgets done ids older than the dedupe window and failures past their retention. */
  prune(): number {
    this.assertOpen();
    const now = this.now();
    this.setSync('NORMAL');
    const done = this.statements.pruneDone.run(now - this.dedupeWindowMs).changes;
    const failed = this.statements.pruneFailed.run(now - this.failedRetentionMs).changes;
    if (done + failed > 0) this.options.logger.debug({ done, failed }, 'Inbox pruned');
    return done + failed;
  }

  /** Commits what is queued, then closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flushAccepts();
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.db.close();
    this.options.logger.info({ file: this.file, pending: this.pending }, 'Inbox store closed');
  }

  private flushAccepts(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    if (this.closed) {
      for (const item of batch) item.reject(storeClosed(this.file));
      return;
    }
    let results: AcceptResult[];
    try {
      this.setSync('FULL');
      results = this.insertBatch(batch);
      this.acceptTransactions++;
    } catch (err) {
      const failure = storeUnavailable(this.file, err);
      for (const item of batch) item.reject(failure);
      return;
    }
    this.pending += results.filter((r) => r === 'accepted').length;
    this.publishPending();
    batch.forEach((item, i) => item.resolve(results[i]!));
  }

  private insertBatch(batch: PendingAccept[]): AcceptResult[] {
    const { insert, exists } = this.statements;
    const acceptedAt = this.now();
    return this.db.transaction(() => {
      let pending = this.pending;
      return batch.map((item): AcceptResult => {
        // A re-delivery is answered 200 even when full: a 503 would only make Telegram retry it.
        if (pending >= this.maxPending) return exists.get(item.updateId) ? 'duplicate' : 'full';
        const changes = insert.run(item.updateId, item.chatId, item.payloadJson, acceptedAt).changes;
        if (changes === 0) return 'duplicate';
        pending++;
        return 'accepted';
      });
    })();
  }

  private finish(updateId: number, state: 'done' | 'failed', error: string | null): void {
    this.assertOpen();
    this.setSync(state === 'failed' ? 'FULL' : 'NORMAL');
    const changes = (state === 'done' ? this.statements.markDone.run(this.now(), updateId) : this.statements.markFailed.run(this.now(), error, updateId)).changes;
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

  /** Switching is a cheap per-connection flag; done only when it changes. */
  private setSync(mode: 'FULL' | 'NORMAL'): void {
    if (this.syncMode === mode) return;
    this.db.pragma(`synchronous = ${mode}`);
    this.syncMode = mode;
  }

  private publishPending(): void {
    this.options.metrics?.inboxPending.set(this.pending);
  }

  private assertOpen(): void {
    if (this.closed) throw storeClosed(this.file);
  }
}
