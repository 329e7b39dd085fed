import type { Connection } from './connection.js';
import type { AcceptResult, InsertedBatch, OpenUpdate, PendingAccept } from './types.js';

type Statements = Connection['statements'];

/**
 * Inserts one group commit's accepts (inside its transaction). A re-delivery is a duplicate; past
 * `maxPending` unfinished updates new ones are refused ('full'), but a re-delivery is still
 * answered 'duplicate' (200): a 503 would only make Telegram retry it. An update decided at
 * intake is inserted done: it takes no room among the unfinished ones, so it is never 'full',
 * and it is not among the rows handed to the dispatcher.
 */
export function insertAccepts(
  statements: Statements,
  batch: PendingAccept[],
  pending: number,
  maxPending: number,
  acceptedAt: number,
  /** Called for each update inserted open (to be dispatched): the store keeps its parsed payload. */
  insertedOpen: (item: PendingAccept) => void,
): InsertedBatch {
  const { insert, insertDone, exists } = statements;
  const rows: OpenUpdate[] = [];
  const results = batch.map((item): AcceptResult => {
    if (item.payloadJson === null) return insertDone.run(item.updateId, item.chatId, acceptedAt, acceptedAt).changes === 0 ? 'duplicate' : 'accepted';
    if (pending + rows.length >= maxPending) return exists.get(item.updateId) ? 'duplicate' : 'full';
    const info = insert.run(item.updateId, item.chatId, item.payloadJson, acceptedAt);
    if (info.changes === 0) return 'duplicate';
    rows.push({ seq: Number(info.lastInsertRowid), updateId: item.updateId, chatId: item.chatId, state: 'accepted', attempts: 0, nextAttemptAt: 0 });
    insertedOpen(item);
    return 'accepted';
  });
  return { results, rows };
}

/** A final mark waiting for the turn's commit: done, or failed with its error. */
interface FinalMark {
  state: 'done' | 'failed';
  at: number;
  error: string | null;
}

/**
 * The marks of the current turn (claims, replied, done, failed), written together right before its
 * COMMIT, inside its transaction. Run back to back, the UPDATEs find SQLite's code and pages warm
 * in the CPU caches; run one at a time between a turn's other work they each cost three to five
 * times as much (issue 16). Nothing is read back in between: a read of open rows, a count or a
 * claim of a marked update writes them first (`write`, `has`). An update that is marked done (or
 * failed) in the same turn needs no replied mark at all: one UPDATE of its row instead of two.
 * Either way the marks are in the commit that precedes any later send of the chat.
 */
export class TurnMarks {
  private readonly claims = new Set<number>();
  private readonly replied = new Set<number>();
  private readonly final = new Map<number, FinalMark>();

  /** A claim that needs nothing read back (InboxStore.begin with the payload in memory); written before the other marks. */
  addClaim(updateId: number): void {
    this.claims.add(updateId);
  }

  addReplied(updateId: number): void {
    if (!this.final.has(updateId)) this.replied.add(updateId);
  }

  /** Its final state: the replied mark, if any, would be overwritten anyway. */
  addFinal(updateId: number, mark: FinalMark): void {
    this.replied.delete(updateId);
    this.final.set(updateId, mark);
  }

  get size(): number {
    return this.claims.size + this.replied.size + this.final.size;
  }

  /** Done and failed marks not written yet: each finishes an open row when it is. */
  get finals(): number {
    return this.final.size;
  }

  has(updateId: number): boolean {
    return this.claims.has(updateId) || this.replied.has(updateId) || this.final.has(updateId);
  }

  /**
   * Inside the transaction: right before COMMIT, or before a read that must see them. Each mark
   * leaves the queue as soon as its UPDATE ran, so a statement that throws (SQLite undoes that
   * one statement, the transaction stays open) leaves only the marks not yet written: none runs
   * twice (a claim adds an attempt). `finished` is told how many open rows became done or failed,
   * also when a later statement threw.
   */
  write(statements: Statements, finished: (rows: number) => void): void {
    let rows = 0;
    try {
      for (const updateId of this.claims) {
        statements.claim.run(updateId);
        this.claims.delete(updateId);
      }
      for (const updateId of this.replied) {
        statements.markReplied.run(updateId);
        this.replied.delete(updateId);
      }
      for (const [updateId, { state, at, error }] of this.final) {
        rows += (state === 'done' ? statements.markDone.run(at, updateId) : statements.markFailed.run(at, error, updateId)).changes;
        this.final.delete(updateId);
      }
    } finally {
      if (rows > 0) finished(rows);
    }
  }

  /** The turn was rolled back: its marks are lost with it (those updates run again, at least once). */
  discard(): void {
    this.claims.clear();
    this.replied.clear();
    this.final.clear();
  }
}
