import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { InboxDispatcher, type DispatchStore } from '../../src/inbox/dispatcher.js';
import type { OpenUpdate } from '../../src/inbox/store.js';
import { WalFlusher } from '../../src/inbox/wal-flusher.js';
import { Metrics } from '../../src/observability/metrics.js';
import { captureLogger } from '../helpers/logger.js';
import { acceptText, committedRows, openStore, textUpdate, waitUntil } from './helpers.js';

type FsyncCallback = (err: NodeJS.ErrnoException | null) => void;

/**
 * Replaces fs.fsync (the WalFlusher's, not SQLite's own) with one that holds each call until the
 * test releases it, so the test decides in which order fsyncs complete, as a loaded thread pool may.
 */
function holdFsyncs(t: { teardown(fn: () => unknown): void }) {
  const real = fs.fsync;
  const held: Array<(fail?: NodeJS.ErrnoException) => void> = [];
  let maxHeld = 0;
  let passing = false;
  (fs as { fsync: unknown }).fsync = (fd: number, callback: FsyncCallback) => {
    if (passing) return real(fd, callback);
    held.push((fail) => (fail ? setImmediate(() => callback(fail)) : real(fd, callback)));
    maxHeld = Math.max(maxHeld, held.length);
  };
  t.teardown(() => {
    (fs as { fsync: unknown }).fsync = real;
    while (held.length > 0) held.shift()!();
  });
  return {
    held,
    get maxHeld() {
      return maxHeld;
    },
    /** Completes the newest held fsync first: the order that used to strand rows. */
    releaseNewest: () => held.pop()?.(),
    releaseOldest: (fail?: NodeJS.ErrnoException) => held.shift()?.(fail),
    /** From now on fsyncs run at once (held ones too). */
    passThrough: () => {
      passing = true;
      while (held.length > 0) held.shift()!();
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

t.test('no acked update is stranded when fsyncs complete newest first (issue 18)', async (t) => {
  const fsyncs = holdFsyncs(t);
  const { store } = openStore(t.testdir(), { maxPending: 100_000 });
  const log = captureLogger();
  const handled = new Set<number>();
  const dispatcher = new InboxDispatcher({
    store,
    concurrency: 8,
    logger: log.logger,
    rescanIntervalMs: 0, // the push path alone must hand every row over
    handler: async (update, journal) => {
      await turn();
      journal.markReplied(); // a bookkeeping commit while an fsync may be running: what made batches overlap
      handled.add(update.updateId);
    },
  });
  t.teardown(async () => {
    await dispatcher.stop(0);
    store.close();
  });
  dispatcher.start();

  const acked: number[] = [];
  const answers: Array<Promise<unknown>> = [];
  let id = 0;
  for (let round = 0; round < 400; round++) {
    for (let i = 0; i < 5; i++) {
      const updateId = ++id;
      answers.push(acceptText(store, updateId, updateId % 37).then((r) => r === 'accepted' && acked.push(updateId)));
    }
    await turn();
    if (round % 3 === 2) fsyncs.releaseNewest();
    await turn();
  }
  // Drain: keep completing the newest held fsync until nothing is held or waiting.
  await waitUntil(
    () => {
      fsyncs.releaseNewest();
      return fsyncs.held.length === 0 && acked.length === id && handled.size >= acked.length;
    },
    20_000,
    'every acked update to be handled',
  ).catch((err) => t.fail(String(err)));
  await Promise.allSettled(answers);
  const stranded = acked.filter((u) => !handled.has(u));
  t.equal(acked.length, id, 'every update was acked');
  t.same(stranded, [], 'every acked update was handled');
  t.ok(fsyncs.maxHeld <= 1, `at most one fsync in flight (saw ${fsyncs.maxHeld})`);
});

t.test('whenDurable callbacks run in call order, also those registered from inside a callback, one fsync at a time', async (t) => {
  const fsyncs = holdFsyncs(t);
  const file = path.join(t.testdir(), 'x.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v TEXT)');
  const flusher = new WalFlusher(file);
  t.teardown(() => {
    flusher.close();
    db.close();
  });
  const order: string[] = [];
  flusher.whenDurable(() => order.push('first')); // starts an fsync: the next three share the next one
  flusher.whenDurable(() => {
    order.push('a');
    flusher.whenDurable(() => order.push('a.inner'));
  });
  flusher.whenDurable(() => order.push('b'));
  flusher.whenDurable(() => order.push('c'));
  for (const expected of [['first'], ['first', 'a', 'b', 'c'], ['first', 'a', 'b', 'c', 'a.inner']]) {
    t.equal(fsyncs.held.length, 1, 'exactly one fsync in flight');
    fsyncs.releaseNewest();
    await waitUntil(() => order.length === expected.length, 5_000, expected.join(','));
    t.same(order, expected);
  }
  t.equal(fsyncs.held.length, 0, 'nothing left waiting');
  t.equal(fsyncs.maxHeld, 1);
});

t.test('the dispatcher queues a row pushed below rows it has already seen, and its rescan finds a row nobody pushed', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  for (const id of [1, 2, 3, 4]) await acceptText(store, id, id);
  const rows: OpenUpdate[] = store.openSince(0);
  // A store whose pushes arrive out of order and that forgets to push row 2 altogether.
  let push!: (rows: OpenUpdate[]) => void;
  let started = false;
  const disorderly: DispatchStore = {
    onDurable: (listener) => ((push = listener), () => {}),
    openSince: (after, limit) => (started ? store.openSince(after, limit) : []),
    begin: (id) => store.begin(id),
    markReplied: (id) => store.markReplied(id),
    markDone: (id) => store.markDone(id),
    markFailed: (id, error) => store.markFailed(id, error),
    scheduleRetry: (id, at, error) => store.scheduleRetry(id, at, error),
  };
  const log = captureLogger();
  const metrics = new Metrics();
  const handled: number[] = [];
  const dispatcher = new InboxDispatcher({
    store: disorderly,
    concurrency: 4,
    logger: log.logger,
    metrics,
    rescanIntervalMs: 0,
    handler: async (u) => void handled.push(u.updateId),
  });
  t.teardown(() => dispatcher.stop(0));
  dispatcher.start();
  started = true;
  push([rows[3]!]);
  push([rows[0]!, rows[2]!]); // below seq 4, already seen: must still run
  await waitUntil(() => handled.length === 3, 5_000, 'the pushed rows');
  t.same([...handled].sort(), [1, 3, 4]);
  dispatcher.notify(); // what the rescan timer does
  await waitUntil(() => handled.length === 4, 5_000, 'the rescan to find update 2');
  t.equal(handled[3], 2);
  t.match(log.text(), /rescan found updates that were never handed over/);
  t.match(await metrics.render(), /skillgate_inbox_rescued_total 1/);
  t.equal(store.pendingCount(), 0);
});

t.test('a failed fsync: 503 for its batch and while the store reopens; then the row runs once and its redelivery is a duplicate', async (t) => {
  const fsyncs = holdFsyncs(t);
  const health: Array<{ writable: boolean; reason?: string }> = [];
  const { store, log } = openStore(t.testdir(), { onHealthChange: (h) => health.push(h), probeIntervalMs: 20 });
  const handled: number[] = [];
  const dispatcher = new InboxDispatcher({
    store,
    concurrency: 2,
    logger: captureLogger().logger,
    rescanIntervalMs: 0,
    handler: async (u) => void handled.push(u.updateId),
  });
  t.teardown(async () => {
    await dispatcher.stop(0);
    store.close();
  });
  dispatcher.start();

  const first = acceptText(store, 1, 1);
  await waitUntil(() => fsyncs.held.length === 1, 5_000, 'the first fsync');
  fsyncs.releaseOldest();
  t.equal(await first, 'accepted');
  // Let update 1's bookkeeping be fsynced, so that the next fsync is the one of update 2's insert.
  await waitUntil(
    () => {
      fsyncs.releaseOldest();
      return handled.includes(1) && store.pendingCount() === 0 && fsyncs.held.length === 0;
    },
    5_000,
    'update 1 to finish',
  );
  await turn();
  t.equal(fsyncs.held.length, 0);

  const second = acceptText(store, 2, 1);
  await waitUntil(() => fsyncs.held.length === 1, 5_000, 'the second fsync');
  fsyncs.releaseOldest(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  await t.rejects(second, { code: 'SG_STORE_UNAVAILABLE' }, 'no 200 for a batch whose fsync failed');
  t.match(health[0], { writable: false, reason: /fsync of the write-ahead log failed/ });
  t.match(log.text(), /refusing updates and reopening the store/);

  fsyncs.passThrough();
  await waitUntil(() => store.writeHealth().writable, 5_000, 'the store to reopen');
  t.match(log.text(), /store reopened after a failed fsync/);
  await waitUntil(() => handled.includes(2), 5_000, 'the replay to run update 2');
  t.equal(await acceptText(store, 2, 1), 'duplicate', 'the redelivery is answered once the row is durable and queued');
  t.equal(await acceptText(store, 3, 1), 'accepted');
  await waitUntil(() => store.pendingCount() === 0, 5_000, 'everything to finish');
  t.same(handled, [1, 2, 3], 'each update handled once, in order');
  t.same(health.map((h) => h.writable), [false, true]);
});

t.test("a failed fsync keeps the open turn's queued marks: the reopen commits them, so nothing finished runs again and no claim is lost", async (t) => {
  const fsyncs = holdFsyncs(t);
  const { store } = openStore(t.testdir(), { probeIntervalMs: 20 });
  t.teardown(() => store.close());
  const accept = (id: number) => {
    const update = textUpdate(id, 1);
    return store.accept(id, 1, JSON.stringify(update), update);
  };
  const accepted = Promise.all([accept(1), accept(3)]);
  await waitUntil(() => fsyncs.held.length === 1, 5_000, 'the first fsync');
  fsyncs.releaseOldest();
  t.same(await accepted, ['accepted', 'accepted']);
  t.equal(store.begin(1)?.attempts, 1);
  await store.committed();

  const second = accept(2);
  await waitUntil(() => fsyncs.held.length === 1, 5_000, 'the fsync of update 2');
  // The failure arrives in the poll phase while this turn's transaction holds two queued marks.
  fsyncs.releaseOldest(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  store.markDone(1);
  t.same(store.begin(3), { payload: textUpdate(3, 1), attempts: 1 }, 'a claim from memory: a queued mark');
  await t.rejects(second, { code: 'SG_STORE_UNAVAILABLE' });
  await store.committed();
  const rows = () => committedRows(store.file, 'SELECT update_id AS id, state, attempts FROM updates ORDER BY update_id');
  t.same(
    rows(),
    [
      { id: 1, state: 'done', attempts: 1 },
      { id: 2, state: 'accepted', attempts: 0 },
      { id: 3, state: 'processing', attempts: 1 },
    ],
    'the done mark and the claim are committed, not dropped with the failed batch',
  );
  fsyncs.passThrough();
  await waitUntil(() => store.writeHealth().writable, 5_000, 'the store to reopen');
  t.same(store.openSince(0).map((r) => r.updateId), [3, 2], 'update 1 is not replayed (in insertion order: 3 came first)');
  t.equal(store.pendingCount(), 2);
});
