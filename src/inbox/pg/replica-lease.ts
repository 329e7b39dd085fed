import type pg from 'pg';
import type { OpenUpdate } from '../types.js';
import { ALIVE, OPEN, OPEN_UPDATE_COLUMNS } from './pg-sql.js';

/**
 * This process's place among the replicas: a row in `replicas` whose heartbeat says it is alive,
 * and the lanes (chats) it owns. A chat is run by its owner only, so its updates keep their order
 * across replicas. A replica that misses its lease (kill -9, a frozen VM, a lost network) is
 * presumed dead, and the first live replica whose heartbeat sees that takes over its lanes with
 * every open update in them, in seq order, so nothing it had accepted is lost.
 *
 * The lease is the replica's own (REPLICA_LEASE_MS, stored in its row) and is judged by the
 * database's clock, never by comparing two machines' clocks.
 */
export class ReplicaLease {
  /** Live replicas at the last heartbeat (this one included): the send rate is split among them. */
  liveReplicas = 1;

  constructor(
    private readonly pool: pg.Pool,
    /** Unique per process: the name, the pid and a random part. */
    readonly id: string,
    private readonly name: string,
    readonly leaseMs: number,
  ) {}

  /** Writes (or refreshes) this replica's row. */
  async heartbeat(): Promise<void> {
    const result = await this.pool.query<{ live: number }>(
      `WITH beat AS (
         INSERT INTO replicas (id, name, lease_ms) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), lease_ms = EXCLUDED.lease_ms
       )
       SELECT count(*)::int + 1 AS live FROM replicas r WHERE r.id <> $1 AND ${ALIVE('r')}`,
      [this.id, this.name, this.leaseMs],
    );
    this.liveReplicas = result.rows[0]?.live ?? 1;
  }

  /**
   * Takes the lanes of dead replicas, and lanes with open updates that nobody owns (released at a
   * shutdown while an update was still arriving), and returns their open updates in seq order.
   * `from` names the replicas whose lanes moved, for the log line.
   */
  async takeOver(): Promise<{ rows: OpenUpdate[]; from: string[]; lanes: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const dead = await client.query<{ lane: string; previous: string }>(
        `UPDATE lanes l SET replica = $1
           FROM (SELECT l2.lane, l2.replica AS previous FROM lanes l2
                   WHERE l2.replica <> $1
                     AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = l2.replica AND ${ALIVE('r')})
                   FOR UPDATE OF l2 SKIP LOCKED) AS gone
          WHERE l.lane = gone.lane
        RETURNING l.lane, gone.previous`,
        [this.id],
      );
      const orphans = await client.query<{ lane: string }>(
        `INSERT INTO lanes (lane, replica)
           SELECT DISTINCT u.lane, $1 FROM updates u
            WHERE u.${OPEN} AND NOT EXISTS (SELECT 1 FROM lanes l WHERE l.lane = u.lane)
         ON CONFLICT (lane) DO NOTHING
         RETURNING lane`,
        [this.id],
      );
      const lanes = [...dead.rows.map((r) => r.lane), ...orphans.rows.map((r) => r.lane)];
      let rows: OpenUpdate[] = [];
      if (lanes.length > 0) {
        rows = (await client.query<OpenUpdate>(`SELECT ${OPEN_UPDATE_COLUMNS} FROM updates u WHERE u.lane = ANY($1) AND u.${OPEN} ORDER BY u.seq`, [lanes])).rows;
      }
      // The dead replicas' rows go once they own nothing; their lanes are ours now.
      await client.query(
        `DELETE FROM replicas r WHERE r.id <> $1 AND NOT ${ALIVE('r')} AND NOT EXISTS (SELECT 1 FROM lanes l WHERE l.replica = r.id)`,
        [this.id],
      );
      await client.query('COMMIT');
      return { rows, from: [...new Set(dead.rows.map((r) => r.previous))], lanes: lanes.length };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Graceful stop: gives up every lane and the replica row, so the other replicas take the chats
   * at once instead of after the lease. Lanes with work left become orphans the next heartbeat
   * of another replica (or this replica's next start) takes.
   */
  async release(): Promise<void> {
    await this.pool.query(`WITH gone AS (DELETE FROM lanes WHERE replica = $1) DELETE FROM replicas WHERE id = $1`, [this.id]);
  }
}
