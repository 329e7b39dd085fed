import type pg from 'pg';
import { migratedTo, type ApprovalRecords, type PendingApproval } from '../../gateway/approval-records.js';
import type { Logger } from '../../observability/logger.js';

/**
 * Pending approvals in PostgreSQL, shared by the replicas: the replica that takes a chat over
 * finds the requests its predecessor made, and a take is one DELETE ... RETURNING, so exactly
 * one tap (on any replica) decides a request.
 */
export class PgApprovals implements ApprovalRecords {
  private known = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.known;
  }

  async put(entry: PendingApproval): Promise<boolean> {
    try {
      const result = await this.pool.query<{ inserted: boolean }>(
        `INSERT INTO approvals (id, chat_id, expires_at, entry) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET chat_id = EXCLUDED.chat_id, expires_at = EXCLUDED.expires_at, entry = EXCLUDED.entry
         RETURNING (xmax = 0) AS inserted`,
        [entry.id, entry.chatId, entry.expiresAt, JSON.stringify(entry)],
      );
      if (result.rows[0]?.inserted) this.known++;
      return true;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'Could not save a pending approval in the database');
      return false;
    }
  }

  async get(id: string): Promise<PendingApproval | undefined> {
    const result = await this.pool.query<{ entry: PendingApproval }>(`SELECT entry FROM approvals WHERE id = $1`, [id]);
    return result.rows[0]?.entry;
  }

  async take(id: string): Promise<PendingApproval | undefined> {
    const result = await this.pool.query<{ entry: PendingApproval }>(`DELETE FROM approvals WHERE id = $1 RETURNING entry`, [id]);
    return this.taken(result.rows)[0];
  }

  async takeExpired(now: number): Promise<PendingApproval[]> {
    const result = await this.pool.query<{ entry: PendingApproval }>(`DELETE FROM approvals WHERE expires_at <= $1 RETURNING entry`, [now]);
    return this.taken(result.rows);
  }

  async migrate(from: number, to: number): Promise<void> {
    const rows = (await this.pool.query<{ entry: PendingApproval }>(`SELECT entry FROM approvals WHERE chat_id = $1`, [from])).rows;
    for (const { entry } of rows) await this.put(migratedTo(entry, to));
  }

  private taken(rows: Array<{ entry: PendingApproval }>): PendingApproval[] {
    this.known = Math.max(0, this.known - rows.length);
    return rows.map((r) => r.entry);
  }
}
