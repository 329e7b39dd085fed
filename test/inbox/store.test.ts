import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { SkillgateError } from '../../src/errors.js';
import { Metrics } from '../../src/observability/metrics.js';
import Database from 'better-sqlite3';
import { claimedPayload } from '../../src/inbox/update-store.js';
import { ParsedPayloads } from '../../src/inbox/parsed-payloads.js';
import type { InboxStore } from '../../src/inbox/store.js';
import { acceptText, committedRows, openStore, textUpdate, waitUntil } from './helpers.js';

const HOUR = 3_600_000;

t.test('accept stores a new update once and answers duplicate for the same update_id', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  t.equal(await acceptText(store, 10, 1), 'accepted');
  t.equal(await acceptText(store, 10, 1), 'duplicate');
  t.equal(store.pendingCount(), 1);
});

t.test('dedupe holds across a reopen of the store', async (t) => {
  const dir = t.testdir();
  const first = openStore(dir).store;
  t.equal(await acceptText(first, 7, 1), 'accepted');
  first.close();
  const second = openStore(dir).store;
  t.teardown(() => second.close());
  t.equal(await acceptText(second, 7, 1), 'duplicate');
  t.equal(second.pendingCount(), 1, 'the pending count is rebuilt from disk');
});

t.test('a done update is still a duplicate (its id is kept for the dedupe window)', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  await acceptText(store, 5, 1);
  store.begin(5);
  store.markDone(5);
  t.equal(store.pendingCount(), 0);
  t.equal(await acceptText(store, 5, 1), 'duplicate');
});

t.test('concurrent accepts in one tick are group-committed in one transaction', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const before = store.stats().acceptTransactions;
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => acceptText(store, i + 1, i % 50)));
  t.equal(store.stats().acceptTransactions - before, 1);
  t.ok(results.every((r) => r === 'accepted'));
  t.equal(store.pendingCount(), 1000);
  t.same(store.openSince(0, 5000).map((r) => r.updateId), Array.from({ length: 1000 }, (_, i) => i + 1));
});

t.test('an accepted update is resolved, and shown to the dispatcher, only after the WAL fsync that covers it', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const pushed: number[] = [];
  store.onDurable((rows) => pushed.push(...rows.map((r) => r.updateId)));
  const fsyncsBefore = store.stats().walFsyncs;
  let resolved = false;
  const accepted = acceptText(store, 1, 1).then((r) => ((resolved = true), r));
  // The commit runs in the setImmediate queued by accept(); the fsync completes in a later poll phase.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(resolved, false, 'committed, fsync still running: no answer yet');
  t.same(store.openSince(0), [], 'not handed to the dispatcher before it is durable');
  t.same(pushed, []);
  t.equal(await accepted, 'accepted');
  t.equal(store.stats().walFsyncs, fsyncsBefore + 1);
  t.same(pushed, [1], 'pushed to the dispatcher once durable');
  t.same(store.openSince(0).map((r) => r.updateId), [1]);
});

t.test('bookkeeping writes are committed at the end of the turn (committed() resolves then) and fsynced later in the background', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  t.teardown(() => store.close());
  await acceptText(store, 1, 1);
  const fsyncsBefore = store.stats().walFsyncs;
  store.begin(1);
  store.markReplied(1);
  await store.committed();
  t.equal(store.stats().walFsyncs, fsyncsBefore, 'no fsync of its own at the commit: the next accept or a timer covers it');
  t.same(committedRows(store.file, 'SELECT state FROM updates WHERE update_id = 1'), [{ state: 'replied' }], 'in the files a kill -9 would leave: committed');
  await waitUntil(() => store.stats().walFsyncs > fsyncsBefore, 5_000, 'the background fsync');
  t.pass('fsynced without anyone waiting on it');
});

t.test('a second store on the same DATA_DIR is refused while the first is open (one process owns the inbox)', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  t.equal(await acceptText(store, 1, 1), 'accepted');
  const err = (() => {
    try {
      openStore(dir).store.close();
    } catch (e) {
      return e as SkillgateError;
    }
  })();
  t.ok(err instanceof SkillgateError, 'the second open throws');
  t.equal(err?.code, 'SG_STORE_UNAVAILABLE');
  t.match(err?.message, /database is locked.*second gateway on the same DATA_DIR/);
  store.close();
  const again = openStore(dir).store;
  t.teardown(() => again.close());
  t.equal(await acceptText(again, 1, 1), 'duplicate', 'once the first closed, the next open works and has its data');
});

t.test("a turn's marks are written together at its commit; a count, a read or a claim of a marked update sees them at once", async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  for (const id of [1, 2, 3]) await acceptText(store, id, 1);
  for (const id of [1, 2, 3]) store.begin(id);
  await store.committed();
  store.markDone(1);
  store.markReplied(2);
  store.markFailed(3, 'boom');
  const stateOf = (id: number) => committedRows(store.file, 'SELECT state FROM updates WHERE update_id = ?', id)[0];
  t.same(stateOf(1), { state: 'processing' }, 'not written yet: queued for the commit');
  t.equal(store.pendingCount(), 1, 'the count sees the done and failed marks');
  t.equal(store.begin(2), undefined, 'a replied update is not claimed again');
  t.same(store.openSince(0).map((row) => [row.updateId, row.state]), [[2, 'replied']]);
  t.equal(store.failedCount(), 1);
  store.markDone(2);
  await store.committed();
  t.same([stateOf(1), stateOf(2), stateOf(3)], [{ state: 'done' }, { state: 'done' }, { state: 'failed' }]);
  t.equal(store.pendingCount(), 0);
});

t.test('the first claim of an update accepted with its parsed payload reads nothing back; it is still committed before committed() resolves', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const update = textUpdate(1, 4, 'hello');
  t.equal(await store.accept(1, 4, JSON.stringify(update), update), 'accepted');
  const first = store.begin(1);
  t.equal(first?.payload, update, 'the very object intake parsed');
  t.equal(first?.attempts, 1);
  const row = () => committedRows(store.file, 'SELECT state, attempts FROM updates WHERE update_id = 1')[0];
  t.same(row(), { state: 'accepted', attempts: 0 }, 'the claim waits for the turn’s commit');
  await store.committed();
  t.same(row(), { state: 'processing', attempts: 1 }, 'committed: what a kill -9 would find');
  store.scheduleRetry(1, 0, 'try again');
  const retry = store.begin(1);
  t.equal(retry?.payload, undefined, 'a retry reads the row');
  t.match(claimedPayload(retry!), { message: { text: 'hello' } });
  t.equal(retry?.attempts, 2);
  t.equal(await store.accept(1, 4, JSON.stringify(update), update), 'duplicate');
  store.markDone(1);
  t.equal(store.begin(1), undefined, 'a re-delivery kept nothing: a done update is not claimed');
});

/** The store's own connection (it holds the file exclusively): tests inject SQLite failures through it. */
function connectionOf(store: InboxStore): Database.Database {
  return (store as unknown as { conn: { db: Database.Database } }).conn.db;
}

t.test('a mark that fails leaves the marks already written out of the queue: a claim never adds two attempts', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  for (const id of [1, 2]) t.equal(await store.accept(id, 4, JSON.stringify(textUpdate(id, 4)), textUpdate(id, 4)), 'accepted');
  const db = connectionOf(store);
  db.exec(`CREATE TEMP TRIGGER fail_claim BEFORE UPDATE OF attempts ON updates WHEN NEW.update_id = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END`);
  store.begin(1);
  store.begin(2);
  t.throws(() => store.openSince(0), /injected/, 'writing the marks before the read fails on the second claim');
  db.exec('DROP TRIGGER fail_claim');
  await store.committed();
  t.same(
    committedRows(store.file, 'SELECT update_id AS id, state, attempts FROM updates ORDER BY update_id'),
    [
      { id: 1, state: 'processing', attempts: 1 },
      { id: 2, state: 'processing', attempts: 1 },
    ],
    'each claim written once',
  );
});

t.test('a commit that is rolled back leaves the pending count as the file has it (its done marks went with it)', async (t) => {
  const { store } = openStore(t.testdir(), { probeIntervalMs: 20 });
  t.teardown(() => store.close());
  await acceptText(store, 1, 4);
  store.begin(1);
  await store.committed();
  const db = connectionOf(store);
  db.exec(`CREATE TEMP TRIGGER fail_insert BEFORE INSERT ON updates BEGIN SELECT RAISE(ABORT, 'injected'); END`);
  store.markDone(1);
  await t.rejects(acceptText(store, 2, 4), { code: 'SG_STORE_UNAVAILABLE' }, 'the insert fails: the whole turn is rolled back');
  t.same(committedRows(store.file, 'SELECT state FROM updates WHERE update_id = 1'), [{ state: 'processing' }]);
  t.equal(store.pendingCount(), 1, 'update 1 is still pending, as the file says');
  db.exec('DROP TRIGGER fail_insert');
});

t.test('parsed payloads are bounded: past the capacity a claim reads the row as before', async (t) => {
  const kept = new ParsedPayloads(2);
  kept.keep(1, { n: 1 });
  kept.keep(2, { n: 2 });
  kept.keep(3, { n: 3 });
  t.equal(kept.size, 2);
  t.same(kept.take(1), { n: 1 });
  t.equal(kept.take(1), undefined, 'once');
  t.equal(kept.take(3), undefined, 'not kept: it came past the capacity');
  kept.clear();
  t.equal(kept.take(2), undefined);
});

t.test('the same update_id twice in one batch is accepted once', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const results = await Promise.all([acceptText(store, 3, 1), acceptText(store, 3, 1)]);
  t.same(results, ['accepted', 'duplicate']);
});

t.test('accept answers full at maxPending, still acks duplicates, and recovers when work finishes', async (t) => {
  const metrics = new Metrics();
  const { store } = openStore(t.testdir(), { maxPending: 3, metrics });
  t.teardown(() => store.close());
  const results = await Promise.all([1, 2, 3, 4].map((id) => acceptText(store, id, 1)));
  t.same(results, ['accepted', 'accepted', 'accepted', 'full']);
  t.equal(await acceptText(store, 2, 1), 'duplicate', 'a re-delivery is a 200, not a 503');
  t.match(await metrics.render(), /skillgate_inbox_pending 3/);
  store.begin(1);
  store.markDone(1);
  t.equal(await acceptText(store, 4, 1), 'accepted');
  t.match(await metrics.render(), /skillgate_inbox_pending 3/);
});

t.test('an update moves accepted -> processing -> replied -> done', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  await acceptText(store, 1, 9, 'hello');
  t.same(store.openSince(0).map((r) => [r.state, r.attempts]), [['accepted', 0]]);
  const claimed = store.begin(1);
  t.equal(claimed?.attempts, 1);
  t.match(claimedPayload(claimed!), { message: { text: 'hello' } });
  t.equal(store.openSince(0)[0]?.state, 'processing');
  store.markReplied(1);
  t.equal(store.openSince(0)[0]?.state, 'replied');
  t.equal(store.begin(1), undefined, 'a replied update cannot be claimed again');
  store.markDone(1);
  t.same(store.openSince(0), []);
  t.equal(store.pendingCount(), 0);
});

t.test('a retry returns the update to accepted with its next attempt time; failed leaves the pending count', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  await acceptText(store, 1, 9);
  store.begin(1);
  store.scheduleRetry(1, 12345, 'boom');
  t.match(store.openSince(0)[0], { state: 'accepted', attempts: 1, nextAttemptAt: 12345 });
  t.equal(store.begin(1)?.attempts, 2);
  store.markFailed(1, 'boom again');
  t.equal(store.pendingCount(), 0, 'the count includes the turn’s queued marks');
  await store.committed(); // the failure lists read what is written
  t.match(store.stats(), { pending: 0, failed: 1, recentFailures: [{ updateId: 1, chatId: 9, attempts: 2, error: 'boom again' }] });
});

t.test('pruning forgets done ids after the dedupe window and failures after their retention', async (t) => {
  let now = 1_000 * HOUR;
  const { store } = openStore(t.testdir(), { now: () => now, dedupeWindowMs: 25 * HOUR, failedRetentionMs: 100 * HOUR });
  t.teardown(() => store.close());
  for (const id of [1, 2, 3]) await acceptText(store, id, 1);
  store.begin(1);
  store.markDone(1);
  store.begin(2);
  store.markFailed(2, 'x');
  now += 26 * HOUR;
  t.equal(store.prune(), 1, 'only the old done row goes');
  t.equal(await acceptText(store, 1, 1), 'accepted', 'an id older than the window is new again');
  t.equal(store.failedCount(), 1);
  now += 100 * HOUR;
  store.prune();
  t.equal(store.failedCount(), 0);
  t.equal(store.openSince(0).map((r) => r.updateId).join(), '3,1', 'unfinished updates are never pruned');
});

t.test('an update decided at intake (no payload) is stored done: a duplicate on re-delivery, never pending, dispatched or full, pruned by the timer', async (t) => {
  let now = 1_000 * HOUR;
  const { store } = openStore(t.testdir(), { now: () => now, maxPending: 1, dedupeWindowMs: 25 * HOUR, pruneIntervalMs: 20 });
  t.teardown(() => store.close());
  const pushed: number[] = [];
  store.onDurable((rows) => pushed.push(...rows.map((r) => r.updateId)));
  const [text, decided] = await Promise.all([acceptText(store, 1, 1), store.accept(2, 5, null)]);
  t.same([text, decided], ['accepted', 'accepted'], 'both in one group commit');
  t.equal(await acceptText(store, 3, 1), 'full', 'the text message filled the inbox');
  t.equal(await store.accept(4, 5, null), 'accepted', 'a decided update takes no room, so it is never refused as full');
  t.equal(await store.accept(2, 5, null), 'duplicate', 'a re-delivery is a duplicate');
  t.equal(store.pendingCount(), 1, 'only the text message is pending');
  t.same(pushed, [1], 'only the text message is handed to the dispatcher');
  t.same(store.openSince(0).map((r) => r.updateId), [1]);
  const rowOf = (id: number) => committedRows(store.file, 'SELECT state, payload, chat_id AS chatId, finished_at AS finishedAt FROM updates WHERE update_id = ?', id)[0];
  t.same(rowOf(2), { state: 'done', payload: null, chatId: 5, finishedAt: now }, 'done from the start, id only');
  now += 26 * HOUR;
  await waitUntil(() => rowOf(2) === undefined && rowOf(4) === undefined, 5_000, 'the prune timer');
  t.ok(rowOf(1), 'the unfinished text message stays');
  t.equal(await store.accept(2, 5, null), 'accepted', 'past the dedupe window its id is new again');
});

t.test('meta values persist across a reopen', async (t) => {
  const dir = t.testdir();
  const first = openStore(dir).store;
  t.equal(first.getMeta('k'), undefined);
  first.setMeta('k', '41');
  first.setMeta('k', '42');
  first.close();
  const second = openStore(dir).store;
  t.teardown(() => second.close());
  t.equal(second.getMeta('k'), '42');
});

t.test('close is idempotent, commits queued accepts, and later calls fail with SG_STORE_UNAVAILABLE', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  const pending = acceptText(store, 1, 1);
  store.close();
  store.close();
  t.equal(await pending, 'accepted', 'an accept queued before close is committed, not dropped');
  t.equal(store.isOpen, false);
  await t.rejects(acceptText(store, 2, 1), { code: 'SG_STORE_UNAVAILABLE' });
  t.throws(() => store.openSince(0), { code: 'SG_STORE_UNAVAILABLE' });
  const reopened = openStore(dir).store;
  t.teardown(() => reopened.close());
  t.equal(reopened.pendingCount(), 1);
});

t.test('a corrupt database file gives SG_STORE_UNAVAILABLE naming the file and the fix', async (t) => {
  const dir = t.testdir({ 'inbox.sqlite': 'this is not a database, just text '.repeat(200) });
  const err = catchError(() => openStore(dir));
  t.type(err, SkillgateError);
  t.equal(err.code, 'SG_STORE_UNAVAILABLE');
  t.match(err.message, path.join(dir, 'inbox.sqlite'));
  t.match(err.message, /corrupt or is not a SQLite database/);
  t.match(err.message, /mv .*inbox\.sqlite .*inbox\.sqlite\.corrupt/);
});

t.test('a database whose pages are damaged fails the integrity check at open, with the corrupt-file fix', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'inbox.sqlite');
  const db = new Database(file);
  db.exec('CREATE TABLE filler (x TEXT)');
  const insert = db.prepare('INSERT INTO filler VALUES (?)');
  for (let i = 0; i < 200; i++) insert.run(`row ${i} `.repeat(50));
  db.close();
  // The header (page 1) stays intact, so SQLite opens the file; a table page in the middle is garbage.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 2 * 4096);
  fs.closeSync(fd);
  const err = catchError(() => openStore(dir));
  t.equal(err.code, 'SG_STORE_UNAVAILABLE');
  t.match(err.message, `Inbox store unavailable at ${file}: integrity check failed`);
  t.match(err.message, /corrupt or is not a SQLite database/);
  t.notMatch(err.message, /Inbox store unavailable.*Inbox store unavailable/, 'wrapped once');
});

t.test('a DATA_DIR that is a file gives SG_STORE_UNAVAILABLE saying it must be a directory', async (t) => {
  const dir = t.testdir({ 'data': 'a file where a directory should be' });
  const err = catchError(() => openStore(path.join(dir, 'data')));
  t.equal(err.code, 'SG_STORE_UNAVAILABLE');
  t.match(err.message, /must be a directory/);
});

t.test('a read-only DATA_DIR gives SG_STORE_UNAVAILABLE naming the directory and the fix', async (t) => {
  const dir = path.join(t.testdir(), 'readonly');
  fs.mkdirSync(dir, { mode: 0o555 });
  fs.chmodSync(dir, 0o555);
  fs.chmodSync(path.dirname(dir), 0o755);
  // Root ignores permissions, so the open runs in a child that drops to nobody when we are root.
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const fixture = path.join(import.meta.dirname, 'fixtures', 'open-store.ts');
  if (!canReadAs(asNobody, fixture)) {
    t.skip('the checkout is not readable by user nobody (e.g. cloned under a 0700 directory)', () => {});
    return;
  }
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, dir], {
    ...asNobody,
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', TSX_DISABLE_CACHE: '1' },
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; code?: string; message?: string };
  t.equal(result.ok, false);
  t.equal(result.code, 'SG_STORE_UNAVAILABLE');
  t.match(result.message, dir);
  t.match(result.message, /writable/);
});

/** Whether a process with these credentials can read `file` (every parent directory traversable). */
function canReadAs(credentials: { uid?: number; gid?: number }, file: string): boolean {
  try {
    execFileSync(process.execPath, ['-e', 'require("fs").readFileSync(process.argv[1])', file], { ...credentials, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function catchError(fn: () => unknown): SkillgateError {
  try {
    fn();
  } catch (err) {
    return err as SkillgateError;
  }
  throw new Error('expected an error');
}
