import t from 'tap';
import { PgInboxStore } from '../../src/inbox/pg/pg-store.js';
import type { OpenUpdate } from '../../src/inbox/types.js';
import { claimedPayload, type UpdateStore } from '../../src/inbox/update-store.js';
import { captureLogger } from '../helpers/logger.js';
import type { TestContext } from '../helpers/tap.js';
import { freshDatabase } from '../helpers/postgres.js';
import { acceptText, openStore, waitUntil } from './helpers.js';

/**
 * The inbox's contract, run against both implementations: SQLite in DATA_DIR and PostgreSQL (a
 * real server; skipped with the reason when none is installed). Whatever the gateway relies on
 * from the store is asserted here once, so the two cannot drift apart.
 */

type Opener = (t: TestContext, options?: { maxPending?: number }) => Promise<UpdateStore | { skip: string }>;

const implementations: Record<string, Opener> = {
  sqlite: async (t, options = {}) => {
    const { store } = openStore(t.testdir(), options);
    t.teardown(() => store.close());
    return store;
  },
  postgres: async (t, options = {}) => {
    const db = await freshDatabase(t);
    if (db.skip !== undefined) return { skip: db.skip };
    const store = await PgInboxStore.open({ url: db.url, replicaName: 'contract', leaseMs: 5_000, logger: captureLogger().logger, ...options });
    t.teardown(() => store.close());
    return store;
  },
};

const awaited = async <T>(value: T | Promise<T>): Promise<T> => value;

for (const [kind, open] of Object.entries(implementations)) {
  t.test(`${kind}: the store contract`, async (t) => {
    const probe = await open(t);
    if ('skip' in probe) {
      t.skip(probe.skip, () => {});
      return;
    }
    t.equal(probe.kind, kind, 'it says what it is');

    t.test('accept: durable once, a duplicate after, pushed to the dispatcher', async (t) => {
      const store = (await open(t)) as UpdateStore;
      const pushed: OpenUpdate[] = [];
      store.onDurable((rows) => pushed.push(...rows));
      t.equal(await acceptText(store, 1, 10), 'accepted');
      t.equal(await acceptText(store, 1, 10), 'duplicate');
      t.equal(await acceptText(store, 2, 10), 'accepted');
      t.same(pushed.map((r) => [r.updateId, r.chatId, r.state, r.attempts]), [[1, 10, 'accepted', 0], [2, 10, 'accepted', 0]], 'pushed once each, in order');
      t.ok(pushed[0]!.seq < pushed[1]!.seq, 'seq rises with insertion');
      t.equal(store.pendingCount(), 2);
      const rows = await awaited(store.openSince(0));
      t.same(rows.map((r) => r.updateId), [1, 2], 'both open');
      t.same((await awaited(store.openSince(rows[0]!.seq))).map((r) => r.updateId), [2], 'openSince starts after the seq given');
    });

    t.test('the same id twice in one batch is one row and one duplicate', async (t) => {
      const store = (await open(t)) as UpdateStore;
      const results = await Promise.all([acceptText(store, 7, 1), acceptText(store, 7, 1)]);
      t.same(results.sort(), ['accepted', 'duplicate']);
      t.same((await awaited(store.openSince(0))).map((r) => r.updateId), [7]);
    });

    t.test('decided at intake (no payload): stored done, a duplicate after, never pending or pushed', async (t) => {
      const store = (await open(t)) as UpdateStore;
      const pushed: OpenUpdate[] = [];
      store.onDurable((rows) => pushed.push(...rows));
      t.equal(await store.accept(30, 3, null), 'accepted');
      t.equal(await store.accept(30, 3, null), 'duplicate');
      t.equal(store.pendingCount(), 0);
      t.same(pushed, []);
      t.same(await awaited(store.openSince(0)), []);
    });

    t.test('claim, reply and done: attempts count, a finished update is not claimed again', async (t) => {
      const store = (await open(t)) as UpdateStore;
      await acceptText(store, 3, 30, 'hello');
      const claim = await awaited(store.begin(3));
      t.equal(claim?.attempts, 1);
      t.match(claimedPayload(claim!), { update_id: 3, message: { text: 'hello' } }, 'the payload as stored');
      await store.committed();
      await awaited(store.markReplied(3));
      t.same((await awaited(store.openSince(0))).map((r) => r.state), ['replied'], 'replied is still open (its done mark may be missing after a crash)');
      t.equal(await awaited(store.begin(3)), undefined, 'a replied update is not run again');
      await awaited(store.markDone(3));
      t.same(await awaited(store.openSince(0)), [], 'done is not open');
      t.equal(store.pendingCount(), 0);
      t.equal(await acceptText(store, 3, 30), 'duplicate', 'the id is remembered after done');
    });

    t.test('retry: back to accepted with its time and error; a second claim counts attempt 2', async (t) => {
      const store = (await open(t)) as UpdateStore;
      await acceptText(store, 4, 40);
      await awaited(store.begin(4));
      const at = Date.now() + 60_000;
      await awaited(store.scheduleRetry(4, at, 'boom'));
      const [row] = await awaited(store.openSince(0));
      t.same([row?.state, row?.nextAttemptAt, row?.attempts], ['accepted', at, 1]);
      t.equal((await awaited(store.begin(4)))?.attempts, 2);
    });

    t.test('failed: kept with its error, counted in stats, not open', async (t) => {
      const store = (await open(t)) as UpdateStore;
      await acceptText(store, 5, 50);
      await awaited(store.begin(5));
      await awaited(store.markFailed(5, 'gave up'));
      t.same(await awaited(store.openSince(0)), []);
      await waitUntil(() => store.stats().failed === 1, 10_000, 'the failure counted');
      t.match(store.stats().recentFailures, [{ updateId: 5, chatId: 50, error: 'gave up' }]);
      t.equal(store.pendingCount(), 0);
    });

    t.test('full: past INBOX_MAX_PENDING an update is refused, not stored', async (t) => {
      const store = (await open(t, { maxPending: 2 })) as UpdateStore;
      t.same(await Promise.all([acceptText(store, 1, 1), acceptText(store, 2, 2), acceptText(store, 3, 3)]), ['accepted', 'accepted', 'full']);
      t.equal(await acceptText(store, 3, 3), 'full', 'still full: it was not stored');
      t.equal(await store.accept(4, 4, null), 'accepted', 'a decided-at-intake update never counts toward the cap');
    });

    t.test('meta: a value survives, an unknown key is undefined', async (t) => {
      const store = (await open(t)) as UpdateStore;
      t.equal(await awaited(store.getMeta('telegram.polling.offset')), undefined);
      await awaited(store.setMeta('telegram.polling.offset', '41'));
      await awaited(store.setMeta('telegram.polling.offset', '42'));
      t.equal(await awaited(store.getMeta('telegram.polling.offset')), '42');
    });

    t.test('after close: accept rejects with SG_STORE_UNAVAILABLE, close again is harmless', async (t) => {
      const store = (await open(t)) as UpdateStore;
      await acceptText(store, 9, 9);
      await store.close();
      t.equal(store.isOpen, false);
      await t.rejects(acceptText(store, 10, 9), { code: 'SG_STORE_UNAVAILABLE' });
      await store.close();
    });
  });
}
