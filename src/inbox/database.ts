import Database from 'better-sqlite3';
import { INBOX_SCHEMA } from './schema.js';
import { storeProblem } from './store-errors.js';

/**
 * WAL pages between automatic checkpoints (SQLite's default is 1000). A checkpoint runs inside a
 * COMMIT on the event loop and fsyncs twice; at 4000 pages (16 MiB of WAL at most) it comes four
 * times less often, and the commits and statements between measured 15-25 % cheaper in the
 * throughput bench (issue 16). The WAL file is reused after each checkpoint, not regrown.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 4000;

/**
 * Opens DATA_DIR/inbox.sqlite as the store uses it: WAL, synchronous=NORMAL (WalFlusher adds the
 * fsync accepts need), schema created. Throws SQLite's error (the store wraps it with the fix), or
 * SG_STORE_UNAVAILABLE with the fix for a file that fails its integrity check.
 */
export function openInboxDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    // Before the first access, so SQLite keeps the WAL index in this process's memory and takes
    // its file locks once for the connection's life instead of several fcntl() per transaction
    // (issue 16: six per commit, most of a bookkeeping commit's cost). The price: no other
    // process can open the inbox while the gateway runs, which also stops a second gateway on
    // the same DATA_DIR at start (SQLITE_BUSY) instead of two processes dispatching one inbox.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    db.pragma('busy_timeout = 5000');
    // Catches a damaged file at start instead of at the first unlucky page read mid-request.
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw storeProblem(file, `integrity check failed: ${String(check)}`, 'SQLITE_CORRUPT');
    db.exec(INBOX_SCHEMA);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Copies the whole WAL into the database file and truncates it. With synchronous=NORMAL SQLite
 * fsyncs the database file after the copy, so what this connection reads is then on disk.
 */
export function checkpointFully(db: Database.Database): void {
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  if (result && result.busy !== 0) throw storeProblem(db.name, 'WAL checkpoint could not complete (database busy)');
}
