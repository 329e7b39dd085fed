import type pg from 'pg';
import type { OpenUpdate } from '../types.js';
import type { Claim } from '../update-store.js';
import { OPEN, OPEN_UPDATE_COLUMNS } from './pg-sql.js';

/**
 * The statements on one replica's rows of the `updates` table: reading its open updates, the
 * claim, and the marks that follow it. Each is one committed statement; a claim holds only while
 * this replica owns the update's lane, so a replica presumed dead cannot start an update its
 * successor owns.
 */
export class PgUpdateRows {
  constructor(
    private readonly pool: pg.Pool,
    private readonly replicaId: string,
    private readonly now: () => number,
  ) {}

  /** Open updates in this replica's lanes inserted after `afterSeq`, in seq order. */
  async openSince(afterSeq: number, limit: number): Promise<OpenUpdate[]> {
    const rows = await this.pool.query<OpenUpdate>(
      `SELECT ${OPEN_UPDATE_COLUMNS} FROM updates u JOIN lanes l ON l.lane = u.lane AND l.replica = $1
        WHERE u.${OPEN} AND u.seq > $2 ORDER BY u.seq LIMIT $3`,
      [this.replicaId, afterSeq, limit],
    );
    return rows.rows;
  }

  /**
   * Every open row of this replica's lanes that hold one of `seqs`, in seq order: the whole lane,
   * not just those rows, since two wake-ups' reads may return in either order.
   */
  async openInLanesOf(seqs: number[]): Promise<OpenUpdate[]> {
    const rows = await this.pool.query<OpenUpdate>(
      `SELECT ${OPEN_UPDATE_COLUMNS} FROM updates u JOIN lanes l ON l.lane = u.lane AND l.replica = $1
        WHERE u.lane IN (SELECT w.lane FROM updates w WHERE w.seq = ANY($2)) AND u.${OPEN} ORDER BY u.seq`,
      [this.replicaId, seqs],
    );
    return rows.rows;
  }

  async begin(updateId: number): Promise<Claim | undefined> {
    const rows = await this.pool.query<Claim>(
      `UPDATE updates u SET state = 'processing', attempts = attempts + 1
        WHERE u.update_id = $1 AND u.state IN ('accepted', 'processing')
          AND EXISTS (SELECT 1 FROM lanes l WHERE l.lane = u.lane AND l.replica = $2)
        RETURNING u.payload AS "payloadJson", u.attempts`,
      [updateId, this.replicaId],
    );
    return rows.rows[0];
  }

  async markReplied(updateId: number): Promise<void> {
    // Only while processing: a done mark that overtook it (another pooled connection) stays.
    await this.pool.query(`UPDATE updates SET state = 'replied' WHERE update_id = $1 AND state = 'processing'`, [updateId]);
  }

  async scheduleRetry(updateId: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.pool.query(`UPDATE updates SET state = 'accepted', next_attempt_at = $2, error = $3 WHERE update_id = $1 AND ${OPEN}`, [
      updateId,
      nextAttemptAt,
      error,
    ]);
  }

  /** Done (payload dropped, id kept for dedupe) or failed (kept with its error). True when it was open. */
  async finish(updateId: number, state: 'done' | 'failed', error: string | null): Promise<boolean> {
    const result = await this.pool.query<{ lane: string }>(
      `UPDATE updates SET state = $2, error = COALESCE($3, error), finished_at = $4, payload = CASE WHEN $2 = 'done' THEN NULL ELSE payload END
        WHERE update_id = $1 AND ${OPEN} RETURNING lane`,
      [updateId, state, error, this.now()],
    );
    const lane = result.rows[0]?.lane;
    if (!lane) return false;
    // An update without a chat is a lane of its own: its owner row goes with it.
    if (lane.startsWith('u')) await this.pool.query(`DELETE FROM lanes WHERE lane = $1 AND replica = $2`, [lane, this.replicaId]);
    return true;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const rows = await this.pool.query<{ value: string }>(`SELECT value FROM meta WHERE key = $1`, [key]);
    return rows.rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
  }
}
