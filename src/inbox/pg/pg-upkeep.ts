import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { FailedUpdate, OpenUpdate } from '../types.js';
import { OPEN } from './pg-sql.js';
import type { ReplicaLease } from './replica-lease.js';

/** Pruning of old done ids and failures runs at most this often. */
const PRUNE_EVERY_MS = 60_000;

/**
 * The PostgreSQL store's periodic work, every third of the lease: the heartbeat, the takeover of
 * dead replicas' chats, and the counters /readyz, the backlog alert and the 'full' check read
 * (counted over all replicas, so they are as fresh as the last beat plus this replica's own
 * changes since). Pruning rides along once a minute.
 */
export class PgUpkeep {
  pending = 0;
  failed = 0;
  recentFailures: FailedUpdate[] = [];
  private oldestUnclaimedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private lastPrune = 0;
  private failing = false;

  constructor(
    private readonly options: {
      pool: pg.Pool;
      lease: ReplicaLease;
      logger: Logger;
      metrics?: Metrics;
      dedupeWindowMs: number;
      failedRetentionMs: number;
      now: () => number;
      tookOver: (rows: OpenUpdate[]) => void;
      healthy: () => void;
      trouble: (err: unknown) => void;
    },
  ) {}

  /**
   * The first beat runs before start() resolves (and throws, so a database that is not there
   * fails the start): the store opens with its counters read and with the chats a dead or
   * stopped replica left, which the dispatcher then resumes as its own at its start.
   */
  async start(): Promise<void> {
    await this.takeOverAndCount();
    this.timer = setInterval(() => void this.beat(), Math.max(200, Math.floor(this.options.lease.leaseMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  opened(n: number): void {
    this.pending += n;
  }

  finished(): void {
    this.pending = Math.max(0, this.pending - 1);
  }

  oldestUnclaimedAgeMs(): number | undefined {
    return this.oldestUnclaimedAt === undefined ? undefined : Math.max(0, this.options.now() - this.oldestUnclaimedAt);
  }

  /** One beat; a beat still running (a slow database) is not doubled. */
  beat(): Promise<void> {
    this.beating ??= this.runBeat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async runBeat(): Promise<void> {
    const { logger } = this.options;
    try {
      await this.takeOverAndCount();
      if (this.options.now() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
      if (this.failing) logger.info('Database: reachable again');
      this.failing = false;
      this.options.healthy();
    } catch (err) {
      if (!this.failing) logger.error({ err: (err as Error).message }, 'Database: heartbeat failed; retrying (other replicas take this one\'s chats if it lasts past the lease)');
      this.failing = true;
      this.options.trouble(err);
    }
  }

  private async takeOverAndCount(): Promise<void> {
    const { lease, logger, metrics } = this.options;
    await lease.heartbeat();
    metrics?.replicasLive.set(lease.liveReplicas);
    const taken = await lease.takeOver();
    if (taken.lanes > 0) {
      logger.info(
        { lanes: taken.lanes, updates: taken.rows.length, from: taken.from },
        taken.from.length > 0 ? 'Replicas: took over the chats of a replica whose lease ran out' : 'Replicas: took over chats nobody owned',
      );
      metrics?.chatsTakenOver.inc(taken.lanes);
      if (taken.rows.length > 0) this.options.tookOver(taken.rows);
    }
    await this.refreshCounters();
  }

  private async refreshCounters(): Promise<void> {
    const { pool } = this.options;
    const counts = await pool.query<{ pending: number; failed: number; oldest: number | null }>(
      `SELECT (SELECT count(*)::int FROM updates WHERE ${OPEN}) AS pending,
              (SELECT count(*)::int FROM updates WHERE state = 'failed') AS failed,
              (SELECT min(accepted_at) FROM updates WHERE state = 'accepted') AS oldest`,
    );
    const row = counts.rows[0]!;
    const recent =
      row.failed === 0
        ? []
        : (
            await pool.query<FailedUpdate>(
              `SELECT update_id AS "updateId", chat_id AS "chatId", attempts, error, finished_at AS "finishedAt"
                 FROM updates WHERE state = 'failed' ORDER BY finished_at DESC LIMIT 5`,
            )
          ).rows;
    // All at once after the last await: stats() must never see the new count with the old list.
    this.pending = row.pending;
    this.failed = row.failed;
    this.oldestUnclaimedAt = row.oldest ?? undefined;
    this.recentFailures = recent;
  }

  private async prune(): Promise<void> {
    const now = this.options.now();
    this.lastPrune = now;
    await this.options.pool.query(
      `DELETE FROM updates WHERE (state = 'done' AND finished_at < $1) OR (state = 'failed' AND finished_at < $2)`,
      [now - this.options.dedupeWindowMs, now - this.options.failedRetentionMs],
    );
  }
}
