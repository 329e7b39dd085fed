import type Database from 'better-sqlite3';

/**
 * The inbox database schema and the statements the store runs over it. `seq` (AUTOINCREMENT, never reused even after pruning) is the
 * insertion order the dispatcher follows; `update_id` is Telegram's id and the dedupe key.
 * Done rows keep only their id (payload dropped) until the dedupe window passes.
 *
 * The indexes are keyed on `finished_at`, not `state` (version 2, issue 16): SQLite rewrites a
 * partial index entry whenever an UPDATE sets a column its WHERE names, even when the row stays
 * in the index. Keyed on `state`, each claim and replied mark (accepted -> processing -> replied)
 * cost two index writes for nothing, about half of an update's SQLite time. `finished_at` is NULL
 * exactly while a row is open (accepted, processing, replied) and is set once, by done or failed,
 * so only the insert and the final mark touch an index. Queries for open rows name both, so the
 * planner can use the index. Version 1's `updates_finished` on (state, finished_at) was never
 * used by the planner (`state = 'done'` does not imply its `state IN (...)`); pruning scanned the
 * table.
 */
export const OPEN_STATES_SQL = `('accepted', 'processing', 'replied')`;
/** What a query for open rows says, so that SQLite can use `updates_unfinished`. */
const OPEN_ROW_SQL = `state IN ${OPEN_STATES_SQL} AND finished_at IS NULL`;
/** A claim: processing, one more attempt, unless the update is no longer runnable. */
const CLAIM_SQL = `UPDATE updates SET state = 'processing', attempts = attempts + 1 WHERE update_id = ? AND state IN ('accepted', 'processing')`;

export const INBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS updates (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  update_id       INTEGER NOT NULL UNIQUE,
  chat_id         INTEGER,
  payload         TEXT,
  state           TEXT    NOT NULL DEFAULT 'accepted',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  accepted_at     INTEGER NOT NULL,
  finished_at     INTEGER,
  last_error      TEXT
);
DROP INDEX IF EXISTS updates_open;
DROP INDEX IF EXISTS updates_finished;
CREATE INDEX IF NOT EXISTS updates_unfinished ON updates (seq) WHERE finished_at IS NULL;
CREATE INDEX IF NOT EXISTS updates_finished_at ON updates (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS updates_failed ON updates (finished_at) WHERE state = 'failed';
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
PRAGMA user_version = 2;
`;

/** Prepared once per connection; the store is their only user. */
export function prepareStatements(db: Database.Database) {
  return {
    // One write transaction per turn of the event loop (see InboxStore): opened by the first write.
    beginTransaction: db.prepare('BEGIN'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    insert: db.prepare(
      `INSERT OR IGNORE INTO updates (update_id, chat_id, payload, state, accepted_at) VALUES (?, ?, ?, 'accepted', ?)`,
    ),
    // Decided at intake (nothing to run): done from the start, id only, pruned like any done row.
    insertDone: db.prepare(
      `INSERT OR IGNORE INTO updates (update_id, chat_id, state, accepted_at, finished_at) VALUES (?, ?, 'done', ?, ?)`,
    ),
    exists: db.prepare(`SELECT 1 FROM updates WHERE update_id = ?`).pluck(),
    countOpen: db.prepare(`SELECT COUNT(*) AS n FROM updates WHERE ${OPEN_ROW_SQL}`),
    countFailed: db.prepare(`SELECT COUNT(*) AS n FROM updates WHERE state = 'failed'`),
    openSince: db.prepare(
      `SELECT seq, update_id AS updateId, chat_id AS chatId, state, attempts, next_attempt_at AS nextAttemptAt
         FROM updates WHERE ${OPEN_ROW_SQL} AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    ),
    maxSeq: db.prepare(`SELECT MAX(seq) FROM updates`).pluck(),
    // Open rows in seq order (the partial index) until the first never-claimed one.
    oldestUnclaimed: db
      .prepare(`SELECT accepted_at FROM updates WHERE ${OPEN_ROW_SQL} AND state = 'accepted' AND attempts = 0 ORDER BY seq LIMIT 1`)
      .pluck(),
    begin: db.prepare(`${CLAIM_SQL} RETURNING payload AS payloadJson, attempts`),
    // A claim whose payload this process still holds (ParsedPayloads): the same write, nothing read back.
    claim: db.prepare(CLAIM_SQL),
    markReplied: db.prepare(`UPDATE updates SET state = 'replied' WHERE update_id = ? AND state IN ${OPEN_STATES_SQL}`),
    markDone: db.prepare(
      `UPDATE updates SET state = 'done', payload = NULL, finished_at = ? WHERE update_id = ? AND state IN ${OPEN_STATES_SQL}`,
    ),
    markFailed: db.prepare(
      `UPDATE updates SET state = 'failed', finished_at = ?, last_error = ? WHERE update_id = ? AND state IN ${OPEN_STATES_SQL}`,
    ),
    scheduleRetry: db.prepare(
      `UPDATE updates SET state = 'accepted', next_attempt_at = ?, last_error = ? WHERE update_id = ? AND state = 'processing'`,
    ),
    recentFailures: db.prepare(
      `SELECT update_id AS updateId, chat_id AS chatId, attempts, last_error AS error, finished_at AS finishedAt
         FROM updates WHERE state = 'failed' ORDER BY finished_at DESC LIMIT ?`,
    ),
    getMeta: db.prepare(`SELECT value FROM meta WHERE key = ?`),
    setMeta: db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    pruneDone: db.prepare(`DELETE FROM updates WHERE state = 'done' AND finished_at < ?`),
    pruneFailed: db.prepare(`DELETE FROM updates WHERE state = 'failed' AND finished_at < ?`),
  };
}
