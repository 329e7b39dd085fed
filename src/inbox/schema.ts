/**
 * The inbox database schema. `seq` (AUTOINCREMENT, never reused even after pruning) is the
 * insertion order the dispatcher follows; `update_id` is Telegram's id and the dedupe key.
 * Done rows keep only their id (payload dropped) until the dedupe window passes.
 */
export const OPEN_STATES_SQL = `('accepted', 'processing', 'replied')`;

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
CREATE INDEX IF NOT EXISTS updates_open ON updates (seq) WHERE state IN ${OPEN_STATES_SQL};
CREATE INDEX IF NOT EXISTS updates_finished ON updates (state, finished_at) WHERE state IN ('done', 'failed');
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
PRAGMA user_version = 1;
`;
