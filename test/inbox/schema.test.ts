import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openInboxDatabase } from '../../src/inbox/database.js';
import { prepareStatements } from '../../src/inbox/schema.js';
import { acceptText, openStore } from './helpers.js';

/** The indexes SQLite says it would use for `sql` (its query plan, one line per step). */
function plan(db: Database.Database, sql: string): string {
  const args = (sql.match(/\?/g) ?? []).map(() => 1);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((row) => row.detail).join(' | ');
}

function statementSql(db: Database.Database): Record<string, string> {
  return Object.fromEntries(Object.entries(prepareStatements(db)).map(([name, statement]) => [name, statement.source]));
}

function indexes(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'updates' AND sql IS NOT NULL ORDER BY name`).all() as Array<{ name: string }>).map(
    (row) => row.name,
  );
}

t.test('every read of open, finished or failed rows is served by an index, not a table scan', async (t) => {
  const db = openInboxDatabase(path.join(t.testdir(), 'inbox.sqlite'));
  t.teardown(() => db.close());
  const sql = statementSql(db);
  t.match(plan(db, sql.openSince!), /USING INDEX updates_unfinished/, 'the dispatcher rescan');
  t.match(plan(db, sql.countOpen!), /USING (COVERING )?INDEX updates_unfinished/, 'the pending count at start');
  t.match(plan(db, sql.oldestUnclaimed!), /USING INDEX updates_unfinished/, 'the stall watch');
  t.match(plan(db, sql.pruneDone!), /USING INDEX updates_finished_at/, 'pruning done ids');
  t.match(plan(db, sql.pruneFailed!), /USING INDEX updates_(failed|finished_at)/, 'pruning failures');
  t.match(plan(db, sql.recentFailures!), /USING INDEX updates_failed/, '/readyz recent failures');
  t.match(plan(db, sql.countFailed!), /USING (COVERING )?INDEX updates_failed/, '/readyz failed count');
  for (const name of ['begin', 'claim', 'markReplied', 'markDone', 'markFailed', 'scheduleRetry', 'exists'] as const) {
    t.match(plan(db, sql[name]!), /USING (COVERING )?INDEX sqlite_autoindex_updates_1 \(update_id=\?\)/, `${name} finds its row by update_id`);
  }
});

t.test('a row is in updates_unfinished from its insert until its final mark, then in updates_finished_at', async (t) => {
  const db = openInboxDatabase(path.join(t.testdir(), 'inbox.sqlite'));
  t.teardown(() => db.close());
  const s = prepareStatements(db);
  s.insert.run(1, 10, '{"update_id":1}', 1000);
  const entries = () => ({
    unfinished: (db.prepare(`SELECT COUNT(*) AS n FROM updates INDEXED BY updates_unfinished WHERE finished_at IS NULL`).get() as { n: number }).n,
    finished: (db.prepare(`SELECT COUNT(*) AS n FROM updates INDEXED BY updates_finished_at WHERE finished_at IS NOT NULL`).get() as { n: number }).n,
  });
  t.same(entries(), { unfinished: 1, finished: 0 });
  s.begin.get(1);
  s.markReplied.run(1);
  t.same(entries(), { unfinished: 1, finished: 0 }, 'still open: the same entry');
  s.markDone.run(2000, 1);
  t.same(entries(), { unfinished: 0, finished: 1 });
  // The invariant the indexes rest on: finished_at is NULL exactly while the row is open.
  t.same(db.prepare(`SELECT state, finished_at AS finishedAt FROM updates`).get(), { state: 'done', finishedAt: 2000 });
});

t.test('a version 1 inbox is upgraded in place at open: its rows kept, its indexes replaced', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'inbox.sqlite');
  const v1 = new Database(file);
  v1.pragma('journal_mode = WAL');
  v1.exec(`
    CREATE TABLE updates (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, update_id INTEGER NOT NULL UNIQUE, chat_id INTEGER, payload TEXT,
      state TEXT NOT NULL DEFAULT 'accepted', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,
      accepted_at INTEGER NOT NULL, finished_at INTEGER, last_error TEXT);
    CREATE INDEX updates_open ON updates (seq) WHERE state IN ('accepted', 'processing', 'replied');
    CREATE INDEX updates_finished ON updates (state, finished_at) WHERE state IN ('done', 'failed');
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    PRAGMA user_version = 1;
  `);
  const now = Date.now(); // recent: the pruner at open would forget older done and failed rows
  const text = (id: number) => JSON.stringify({ update_id: id, message: { message_id: id, date: 1, chat: { id: 5, type: 'private' }, from: { id: 5, is_bot: false, first_name: 'A' }, text: 'hi' } });
  v1.prepare(`INSERT INTO updates (update_id, chat_id, payload, state, accepted_at) VALUES (1, 5, ?, 'accepted', ?)`).run(text(1), now);
  v1.prepare(`INSERT INTO updates (update_id, chat_id, payload, state, attempts, accepted_at) VALUES (2, 5, ?, 'processing', 1, ?)`).run(text(2), now);
  v1.prepare(`INSERT INTO updates (update_id, chat_id, state, accepted_at, finished_at) VALUES (3, 5, 'done', ?, ?)`).run(now, now);
  v1.prepare(`INSERT INTO updates (update_id, chat_id, state, accepted_at, finished_at, last_error) VALUES (4, 5, 'failed', ?, ?, 'boom')`).run(now, now);
  v1.close();

  const { store } = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.pendingCount(), 2, 'the two open rows are still open');
  t.same(
    store.openSince(0).map((row) => row.updateId),
    [1, 2],
  );
  t.equal(await acceptText(store, 3, 5), 'duplicate', 'a done id is still remembered');
  t.equal(store.stats().failed, 1);
  store.close(); // it holds the file exclusively
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.same(indexes(db), ['updates_failed', 'updates_finished_at', 'updates_unfinished']);
  t.equal(db.pragma('user_version', { simple: true }), 2);
});
