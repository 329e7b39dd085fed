import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/inbox/database.js';
import { WalFlusher } from '../../src/inbox/wal-flusher.js';
import { acceptText, openStore } from './helpers.js';

/** A WAL-mode database in `dir` with one table, as SQLite leaves it after the first write. */
function walDatabase(dir: string) {
  const file = path.join(dir, 'x.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v TEXT)');
  return { file, db, insert: db.prepare('INSERT INTO t (v) VALUES (?)') };
}

const durable = (flusher: WalFlusher) => new Promise<Error | null>((resolve) => flusher.whenDurable(resolve));

t.test('commits made while an fsync runs share the next fsync (group commit)', async (t) => {
  const { file, db, insert } = walDatabase(t.testdir());
  const flusher = new WalFlusher(file);
  t.teardown(() => {
    flusher.close();
    db.close();
  });
  insert.run('a');
  const first = durable(flusher);
  const queued = Array.from({ length: 20 }, (_, i) => {
    insert.run(`b${i}`);
    return durable(flusher);
  });
  t.same(await Promise.all([first, ...queued]), Array(21).fill(null), 'every waiter settles without error');
  t.equal(flusher.fsyncCount, 2, 'one fsync for the first commit, one for the twenty queued behind it');
  t.equal(flusher.idle, true);
});

t.test('close settles every waiter with one synchronous fsync and refuses later ones', async (t) => {
  const { file, db, insert } = walDatabase(t.testdir());
  const flusher = new WalFlusher(file);
  t.teardown(() => db.close());
  insert.run('a');
  const settled: Array<Error | null> = [];
  for (let i = 0; i < 3; i++) flusher.whenDurable((err) => settled.push(err));
  flusher.close();
  t.same(settled, [null, null, null], 'settled before close returns');
  t.match(await durable(flusher), { message: /closed/ });
  flusher.close();
});

t.test('the WAL the flusher syncs stays the one SQLite writes, across checkpoints', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  t.teardown(() => store.close());
  const wal = `${store.file}-wal`;
  const inode = fs.statSync(wal).ino;
  const big = 'x'.repeat(16_000); // four overflow pages a row
  let id = 0;
  // Three times wal_autocheckpoint: SQLite checkpoints and rewinds the WAL several times.
  const rows = Math.ceil((3 * WAL_AUTOCHECKPOINT_PAGES) / 4);
  for (let round = 0; round < rows / 500; round++) {
    await Promise.all(Array.from({ length: 500 }, () => acceptText(store, ++id, 1, big)));
  }
  t.ok(fs.statSync(wal).size < rows * big.length, 'the WAL was rewound by checkpoints (it holds less than what was written)');
  // No other connection can checkpoint it behind the flusher's back: the store holds the file alone.
  const side = new Database(store.file, { timeout: 0 });
  t.throws(() => side.pragma('wal_checkpoint(TRUNCATE)'), /locked|busy/i, 'a second connection is refused');
  side.close();
  t.equal(await acceptText(store, ++id, 1), 'accepted');
  t.equal(fs.statSync(wal).ino, inode, 'same inode: no new WAL file was created behind the flusher');
  t.ok(store.stats().walFsyncs >= 7, 'every group commit was fsynced');
});
