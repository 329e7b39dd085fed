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
export function insertAccepts(statements: Statements, batch: PendingAccept[], pending: number, maxPending: number, acceptedAt: number): InsertedBatch {
  const { insert, insertDone, exists } = statements;
  const rows: OpenUpdate[] = [];
  const results = batch.map((item): AcceptResult => {
    if (item.payloadJson === null) return insertDone.run(item.updateId, item.chatId, acceptedAt, acceptedAt).changes === 0 ? 'duplicate' : 'accepted';
    if (pending + rows.length >= maxPending) return exists.get(item.updateId) ? 'duplicate' : 'full';
    const info = insert.run(item.updateId, item.chatId, item.payloadJson, acceptedAt);
    if (info.changes === 0) return 'duplicate';
    rows.push({ seq: Number(info.lastInsertRowid), updateId: item.updateId, chatId: item.chatId, state: 'accepted', attempts: 0, nextAttemptAt: 0 });
    return 'accepted';
  });
  return { results, rows };
}

/**
 * Replied marks of the current turn, written right before its COMMIT. An update that is marked
 * done (or failed) in the same turn needs no replied mark at all: one UPDATE of its row instead
 * of two (the dispatcher reads nothing back in between). Either way the mark is in the commit that precedes any later send of the chat.
 */
export class RepliedMarks {
  private readonly ids = new Set<number>();

  add(updateId: number): void {
    this.ids.add(updateId);
  }

  /** Its final state is written in this turn: the mark would be overwritten anyway. */
  supersede(updateId: number): void {
    this.ids.delete(updateId);
  }

  /** Inside the transaction: right before COMMIT, or before a read that must see them. */
  write(statements: Statements): void {
    if (this.ids.size === 0) return;
    for (const updateId of this.ids) statements.markReplied.run(updateId);
    this.ids.clear();
  }

  /** The turn was rolled back: its marks are lost with it (those updates run again, at least once). */
  discard(): void {
    this.ids.clear();
  }
}
