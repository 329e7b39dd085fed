import type pg from 'pg';
import { laneKeyOf } from '../lanes.js';
import type { AcceptResult, OpenUpdate, PendingAccept } from '../types.js';
import { OPEN, OPEN_UPDATE_COLUMNS } from './pg-sql.js';

/** NOTIFY payloads must stay under 8000 bytes: seqs per notification. */
const SEQS_PER_NOTIFY = 500;
export const WAKEUP_CHANNEL = 'skillgate_inbox';

/** One committed intake batch: what each accept() gets, and the open rows this replica runs. */
export interface IntakeOutcome {
  results: AcceptResult[];
  /** New open rows in lanes this replica owns (plus older open rows of lanes it just took), in seq order. */
  mine: OpenUpdate[];
  /** How many rows were inserted open (for the pending gauge). */
  opened: number;
}

/**
 * Group commit for PostgreSQL: accept() calls that arrive while a batch is being committed wait
 * for the next one, so one transaction (one WAL flush, synchronous_commit on) covers as many
 * updates as arrive in one round trip. The batch inserts the rows (a duplicate update_id, from
 * any replica, is one row: ON CONFLICT DO NOTHING), gives each new chat an owner (this replica,
 * unless a live one owns it already), and tells the owners of the other chats with NOTIFY, which
 * PostgreSQL delivers only once the transaction commits.
 */
export class PgIntake {
  private queue: PendingAccept[] = [];
  private running: Promise<void> | undefined;
  transactions = 0;

  constructor(
    private readonly options: {
      pool: pg.Pool;
      replicaId: string;
      /** Unfinished updates now (all replicas, as last counted) and the cap (INBOX_MAX_PENDING). */
      pending: () => number;
      maxPending: number;
      now: () => number;
      committed: (outcome: IntakeOutcome) => void;
      failed: (err: unknown) => void;
    },
  ) {}

  enqueue(accept: PendingAccept): void {
    this.queue.push(accept);
    this.running ??= this.drain();
  }

  /** Resolves once every queued accept is settled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  rejectQueued(err: unknown): void {
    for (const accept of this.queue.splice(0)) accept.reject(err);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const outcome = await this.commit(batch);
        this.transactions++;
        this.options.committed(outcome);
        batch.forEach((accept, i) => accept.resolve(outcome.results[i]!));
      } catch (err) {
        this.options.failed(err);
        for (const accept of batch) accept.reject(err);
      }
    }
    this.running = undefined;
  }

  private async commit(batch: PendingAccept[]): Promise<IntakeOutcome> {
    const { maxPending, now } = this.options;
    // Over the cap: 'full' (the webhook answers 503, Telegram retries); decided-at-intake rows never count.
    let room = maxPending - this.options.pending();
    const admitted = batch.map((a) => a.payloadJson === null || room-- > 0);
    const input = batch.filter((_, i) => admitted[i]);
    // Nothing admitted: every answer is 'full', and there is nothing to commit.
    if (input.length === 0) return { results: batch.map(() => 'full'), mine: [], opened: 0 };
    const at = now();
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query<{ updateId: number; seq: number; lane: string; open: boolean }>(
        `INSERT INTO updates (update_id, chat_id, lane, state, payload, accepted_at, finished_at)
           SELECT t.update_id, t.chat_id, t.lane,
                  CASE WHEN t.payload IS NULL THEN 'done' ELSE 'accepted' END, t.payload, $5,
                  CASE WHEN t.payload IS NULL THEN $5::bigint END
             FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS t(update_id, chat_id, lane, payload)
         ON CONFLICT (update_id) DO NOTHING
         RETURNING update_id AS "updateId", seq, lane, state = 'accepted' AS open`,
        [input.map((a) => a.updateId), input.map((a) => a.chatId), input.map((a) => laneKeyOf(a.updateId, a.chatId)), input.map((a) => a.payloadJson), at],
      );
      const newIds = new Set(inserted.rows.map((r) => r.updateId));
      const open = inserted.rows.filter((r) => r.open);
      const mine = open.length > 0 ? await this.assignLanes(client, open) : [];
      await client.query('COMMIT');
      const seen = new Set<number>();
      const results = batch.map((a, i): AcceptResult => {
        if (!admitted[i]) return 'full';
        // The same id twice in one batch: the first is the row, the second a duplicate.
        if (!newIds.has(a.updateId) || seen.has(a.updateId)) return 'duplicate';
        seen.add(a.updateId);
        return 'accepted';
      });
      return { results, mine, opened: open.length };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Owners for the new rows' lanes: an existing owner stays (alive or not: a dead one's lanes move
   * with their older updates at the next takeover, in order); a lane nobody owns becomes ours,
   * together with any older open rows left in it. Returns the rows this replica runs: every open
   * row of our lanes, not only the new ones. An older row another replica accepted may still have
   * its NOTIFY on the way; pushed only with it, our newer row would run first (the dispatcher
   * skips the rows it holds already).
   */
  private async assignLanes(client: pg.PoolClient, open: Array<{ seq: number; lane: string }>): Promise<OpenUpdate[]> {
    const lanes = [...new Set(open.map((r) => r.lane))];
    const owners = await client.query<{ lane: string; replica: string }>(
      `INSERT INTO lanes (lane, replica) SELECT unnest($1::text[]), $2
       ON CONFLICT (lane) DO UPDATE SET replica = lanes.replica
       RETURNING lane, replica`,
      [lanes, this.options.replicaId],
    );
    const ownerOf = new Map(owners.rows.map((r) => [r.lane, r.replica]));
    const ours = owners.rows.filter((r) => r.replica === this.options.replicaId).map((r) => r.lane);
    const others = new Map<string, number[]>();
    for (const row of open) {
      const owner = ownerOf.get(row.lane)!;
      if (owner !== this.options.replicaId) others.set(owner, [...(others.get(owner) ?? []), row.seq]);
    }
    for (const [owner, seqs] of others) {
      for (let i = 0; i < seqs.length; i += SEQS_PER_NOTIFY) {
        await client.query(`SELECT pg_notify($1, $2)`, [WAKEUP_CHANNEL, `${owner} ${seqs.slice(i, i + SEQS_PER_NOTIFY).join(',')}`]);
      }
    }
    if (ours.length === 0) return [];
    const rows = await client.query<OpenUpdate>(`SELECT ${OPEN_UPDATE_COLUMNS} FROM updates u WHERE u.lane = ANY($1) AND u.${OPEN} ORDER BY u.seq`, [ours]);
    return rows.rows;
  }
}
