import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { ApprovalRecords } from '../../gateway/approval-records.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ChatDocuments } from '../../router/chat-history.js';
import { SkillgateError } from '../../errors.js';
import { DEFAULT_DEDUPE_WINDOW_MS, DEFAULT_FAILED_RETENTION_MS } from '../pruner.js';
import { StoreHealthState, type StoreHealth } from '../store-health.js';
import { StoreEvents } from '../store-events.js';
import type { AcceptResult, InboxStats, OpenUpdate } from '../types.js';
import type { Claim, UpdateStore } from '../update-store.js';
import { createPool, databaseUnavailable, describeDatabase } from './pg-connection.js';
import { PgApprovals } from './pg-approvals.js';
import { PgChatDocuments } from './pg-chat-documents.js';
import { PgIntake, type IntakeOutcome } from './pg-intake.js';
import { migrate } from './pg-schema.js';
import { PgUpdateRows } from './pg-update-rows.js';
import { PgUpkeep } from './pg-upkeep.js';
import { InboxWakeups } from './pg-wakeups.js';
import { PushedRows } from './pushed-rows.js';
import { ReplicaLease } from './replica-lease.js';

export interface PgInboxStoreOptions {
  url: string;
  /** REPLICA_ID: the name in logs and metrics; the database row adds the pid and a random part. */
  replicaName: string;
  /** REPLICA_LEASE_MS. */
  leaseMs: number;
  logger: Logger;
  metrics?: Metrics;
  /** INBOX_MAX_PENDING, counted over all replicas. Default 20000. */
  maxPending?: number;
  /** Done ids are remembered this long for dedupe. Defaults as the SQLite store's pruner. */
  dedupeWindowMs?: number;
  failedRetentionMs?: number;
  onHealthChange?: (health: StoreHealth) => void;
  now?: () => number;
}

/**
 * The inbox in PostgreSQL, for several replicas behind one proxy (DATABASE_URL). Intake on any
 * replica; each chat (lane) run by the one replica that owns it (ReplicaLease), woken with
 * LISTEN/NOTIFY when another replica accepted its update (InboxWakeups); a dead replica's chats
 * taken over at the next heartbeat of a live one, open updates and all.
 *
 * Durability: accept() resolves once its transaction committed with synchronous_commit on (the
 * server's default, set again per session), i.e. flushed to the server's WAL. Every claim and
 * mark is its own committed statement, awaited by the dispatcher before the next step of that
 * chat, so the replay rules are the SQLite store's: after kill -9 of a replica, only the updates
 * it had claimed and not marked replied can be sent twice (the sends in flight, one per chat).
 * A claim succeeds only while this replica owns the chat, so a replica that was presumed dead
 * and comes back cannot start an update its successor owns.
 */
export class PgInboxStore implements UpdateStore {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly replicaId: string;
  private readonly health: StoreHealthState;
  private readonly intake: PgIntake;
  private readonly wakeups: InboxWakeups;
  private readonly upkeep: PgUpkeep;
  private readonly rows: PgUpdateRows;
  private readonly events = new StoreEvents();
  private readonly pushed = new PushedRows();
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly lease: ReplicaLease,
    private readonly options: PgInboxStoreOptions,
  ) {
    this.location = describeDatabase(options.url);
    this.replicaId = lease.id;
    const now = options.now ?? Date.now;
    this.health = new StoreHealthState(options.onHealthChange);
    this.rows = new PgUpdateRows(pool, lease.id, now);
    this.upkeep = new PgUpkeep({
      pool,
      lease,
      logger: options.logger,
      metrics: options.metrics,
      dedupeWindowMs: options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
      failedRetentionMs: options.failedRetentionMs ?? DEFAULT_FAILED_RETENTION_MS,
      now,
      tookOver: (rows) => this.push(this.pushed.fresh(rows, { takeover: true })),
      healthy: () => this.health.recover(),
      trouble: (err) => this.trouble(err),
    });
    this.intake = new PgIntake({
      pool,
      replicaId: lease.id,
      pending: () => this.upkeep.pending,
      maxPending: options.maxPending ?? 20_000,
      now,
      committed: (outcome) => this.committedIntake(outcome),
      failed: (err) => this.trouble(err),
    });
    this.wakeups = new InboxWakeups({
      url: options.url,
      applicationName: `skillgate ${lease.id} listen`,
      replicaId: lease.id,
      logger: options.logger,
      wake: (seqs) => void this.fetchWoken(seqs),
      resync: () => this.reopened(),
    });
  }

  /** Connects, migrates the schema, joins the replicas. Throws SG_STORE_UNAVAILABLE with the fix. */
  static async open(options: PgInboxStoreOptions): Promise<PgInboxStore> {
    const where = describeDatabase(options.url);
    const id = `${options.replicaName}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const pool = createPool({ url: options.url, applicationName: `skillgate ${id}`, max: 8 });
    // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
    pool.on('error', (err) => options.logger.warn({ err: err.message }, 'Database: an idle connection failed'));
    try {
      const client = await pool.connect();
      try {
        const applied = await migrate(client);
        if (applied.length > 0) options.logger.info({ database: where, versions: applied }, 'Database: schema migrated');
      } finally {
        client.release();
      }
      const lease = new ReplicaLease(pool, id, options.replicaName || os.hostname(), options.leaseMs);
      const store = new PgInboxStore(pool, lease, options);
      await store.upkeep.start();
      await store.wakeups.start();
      const opened = { database: where, replica: id, liveReplicas: lease.liveReplicas, leaseMs: options.leaseMs, pending: store.upkeep.pending };
      options.logger.info(opened, 'Inbox store open (PostgreSQL)');
      return store;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw databaseUnavailable(where, err);
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  accept(updateId: number, chatId: number | null, payloadJson: string | null): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.intake.enqueue({ updateId, chatId, payloadJson, resolve, reject }));
  }

  onDurable(listener: (rows: OpenUpdate[]) => void): () => void {
    return this.events.onDurable(listener);
  }

  onReopen(listener: () => void): () => void {
    return this.events.onReopen(listener);
  }

  writeHealth(): StoreHealth {
    return this.health.current;
  }

  oldestUnclaimedAgeMs(): number | undefined {
    return this.upkeep.oldestUnclaimedAgeMs();
  }

  pendingCount(): number {
    return this.upkeep.pending;
  }

  /** Pending approvals on this database, shared by the replicas. */
  approvals(): ApprovalRecords {
    return new PgApprovals(this.pool, this.options.logger);
  }

  /** The LLM router's chat memory on this database, shared by the replicas. */
  chatDocuments(): ChatDocuments {
    return new PgChatDocuments(this.pool);
  }

  /** Live replicas at the last heartbeat, this one included (the send rate is split among them). */
  liveReplicas(): number {
    return this.lease.liveReplicas;
  }

  stats(): InboxStats {
    const { failed, recentFailures } = this.upkeep;
    return { pending: this.upkeep.pending, failed, recentFailures, acceptTransactions: this.intake.transactions, walFsyncs: this.intake.transactions };
  }

  openSince(afterSeq: number, limit = 1000): Promise<OpenUpdate[]> {
    return this.rows.openSince(afterSeq, limit);
  }

  begin(updateId: number): Promise<Claim | undefined> {
    return this.rows.begin(updateId);
  }

  /** Every claim and mark is committed when its promise resolves: nothing is left to wait for. */
  committed(): Promise<void> {
    return Promise.resolve();
  }

  markReplied(updateId: number): Promise<void> {
    return this.rows.markReplied(updateId);
  }

  async markDone(updateId: number): Promise<void> {
    if (await this.rows.finish(updateId, 'done', null)) this.upkeep.finished();
  }

  async markFailed(updateId: number, error: string): Promise<void> {
    if (await this.rows.finish(updateId, 'failed', error)) this.upkeep.finished();
  }

  scheduleRetry(updateId: number, nextAttemptAt: number, error: string): Promise<void> {
    return this.rows.scheduleRetry(updateId, nextAttemptAt, error);
  }

  getMeta(key: string): Promise<string | undefined> {
    return this.rows.getMeta(key);
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.rows.setMeta(key, value);
  }

  /** Settles every accept(), gives the chats back (the other replicas take them at once), disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.intake.idle();
    this.intake.rejectQueued(this.closedError());
    this.upkeep.stop();
    await this.wakeups.stop();
    try {
      await this.lease.release();
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'Database: could not release this replica\'s chats; the others take them when its lease runs out');
    }
    await this.pool.end().catch(() => undefined);
    this.options.logger.info({ database: this.location, replica: this.replicaId }, 'Inbox store closed');
  }

  private committedIntake(outcome: IntakeOutcome): void {
    this.health.recover();
    this.upkeep.opened(outcome.opened);
    this.push(this.pushed.fresh(outcome.mine));
  }

  /** Rows another replica accepted for our lanes (still open, still ours), pushed with every open row of their lanes: two wake-ups' reads may return in either order. */
  private async fetchWoken(seqs: number[]): Promise<void> {
    try {
      this.push(this.pushed.fresh(await this.rows.openInLanesOf(seqs)));
    } catch (err) {
      // The dispatcher's rescan finds them within a second.
      this.options.logger.warn({ err: (err as Error).message }, 'Database: could not read woken updates; the rescan will find them');
    }
  }

  private push(rows: OpenUpdate[]): void {
    if (this.closed || rows.length === 0) return;
    this.events.durable(rows);
  }

  private reopened(): void {
    this.events.reopened();
  }

  private trouble(err: unknown): void {
    const reason = databaseUnavailable(this.location, err).message;
    this.health.fail('write', reason, Date.now());
  }

  private closedError(): SkillgateError {
    return new SkillgateError('SG_STORE_UNAVAILABLE', `Inbox store at ${this.location} is closed`);
  }
}

