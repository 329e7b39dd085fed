import fs from 'node:fs';
import t from 'tap';
import { InboxDispatcher } from '../../src/inbox/dispatcher.js';
import { captureLogger } from '../helpers/logger.js';
import { acceptText, openStore, waitUntil } from './helpers.js';

type FsyncCallback = (err: NodeJS.ErrnoException | null) => void;

/**
 * Replaces fs.fsync (the WalFlusher's, not SQLite's own) with one that holds each call until the
 * test releases it, so the test decides in which order fsyncs complete, as a loaded thread pool may.
 */
function holdFsyncs(t: { teardown(fn: () => unknown): void }) {
  const real = fs.fsync;
  const held: Array<(fail?: NodeJS.ErrnoException) => void> = [];
  let maxHeld = 0;
  (fs as { fsync: unknown }).fsync = (fd: number, callback: FsyncCallback) => {
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
