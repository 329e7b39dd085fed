import t from 'tap';
import pg from 'pg';
import { PgInboxStore } from '../../src/inbox/pg/pg-store.js';
import { PollerLeadership } from '../../src/inbox/pg/poller-leadership.js';
import type { OpenUpdate } from '../../src/inbox/types.js';
import { captureLogger } from '../helpers/logger.js';
import { freshDatabase } from '../helpers/postgres.js';
import type { TestContext } from '../helpers/tap.js';
import { acceptText, waitUntil } from './helpers.js';

/**
 * Several replicas on one PostgreSQL database, each a real PgInboxStore on its own connections:
 * one row per update_id whichever replica took it, one owner per chat, wake-ups across replicas,
 * takeover of a dead replica's chats in order, and one poller. A "dead" replica is one whose
 * connections are cut without the graceful release (as kill -9 leaves it).
 */

const LEASE_MS = 1_000;

async function replica(t: TestContext, url: string, name: string) {
  const log = captureLogger();
  const store = await PgInboxStore.open({ url, replicaName: name, leaseMs: LEASE_MS, logger: log.logger });
  const pushed: OpenUpdate[] = [];
  store.onDurable((rows) => pushed.push(...rows));
  t.teardown(() => store.close());
  return { store, pushed, log };
}

/** Cuts a replica off as kill -9 would: no release, its connections just end. */
async function killed(store: PgInboxStore): Promise<void> {
  const internals = store as unknown as { upkeep: { stop(): void }; wakeups: { stop(): Promise<void> }; pool: pg.Pool; closed: boolean };
  internals.upkeep.stop();
  await internals.wakeups.stop();
  await internals.pool.end();
  internals.closed = true;
}

/** First appearance of each update id in what the replica was pushed: the order its dispatcher learns of them. */
const firstSeen = (rows: OpenUpdate[]) => [...new Set(rows.map((r) => r.updateId))];

async function database(t: TestContext): Promise<string | undefined> {
  const db = await freshDatabase(t);
  if (db.skip !== undefined) {
    t.skip(db.skip, () => {});
    return undefined;
  }
  return db.url;
}

t.test('the same update posted to two replicas is one row, run by one of them', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  const results = await Promise.all([acceptText(a.store, 100, 1), acceptText(b.store, 100, 1)]);
  t.same(results.sort(), ['accepted', 'duplicate']);
  await waitUntil(() => a.pushed.length + b.pushed.length >= 1, 5_000, 'the owner told');
  t.equal(a.pushed.length + b.pushed.length, 1, 'pushed to exactly one replica');
});

t.test('a chat has one owner: an update taken by the other replica wakes the owner, and only the owner can claim', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  t.equal(await acceptText(a.store, 1, 10), 'accepted', 'a takes chat 10 first: a owns it');
  t.equal(await acceptText(b.store, 2, 10), 'accepted', 'b accepts the next update of chat 10');
  await waitUntil(() => a.pushed.some((r) => r.updateId === 2), 5_000, 'a woken by NOTIFY');
  t.same(firstSeen(a.pushed), [1, 2], 'the owner gets both, in order (update 1, still open, comes again with 2)');
  t.same(b.pushed, [], 'b runs nothing of chat 10');
  t.equal(await b.store.begin(2), undefined, 'b cannot claim an update of a chat it does not own');
  t.same((await b.store.openSince(0)).map((r) => r.updateId), [], 'b sees none of them as its own');
  t.equal((await a.store.begin(2))?.attempts, 1, 'a can');
});

t.test("the owner's own next update of a chat comes with the older one another replica took, whose NOTIFY is late", async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  await acceptText(a.store, 1, 11); // a owns chat 11
  await waitUntil(() => a.pushed.length === 1, 5_000, 'a runs its first');
  // a's listener is down: b's NOTIFY for update 2 never reaches it (as if still on the way).
  await (a.store as unknown as { wakeups: { stop(): Promise<void> } }).wakeups.stop();
  t.equal(await acceptText(b.store, 2, 11), 'accepted', 'b takes the next update of chat 11, acked before 3 is sent');
  t.equal(await acceptText(a.store, 3, 11), 'accepted');
  await waitUntil(() => a.pushed.some((r) => r.updateId === 3), 5_000, 'a pushed its own');
  t.same(firstSeen(a.pushed), [1, 2, 3], 'update 2 reaches the dispatcher no later than update 3');
});

t.test('a wake-up brings the older open rows of its chat: two reads returning out of order keep the chat in order', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  await acceptText(a.store, 1, 12);
  await (a.store as unknown as { wakeups: { stop(): Promise<void> } }).wakeups.stop();
  await acceptText(b.store, 2, 12);
  await acceptText(b.store, 3, 12);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  const seq3 = Number((await client.query<{ seq: string }>('SELECT seq FROM updates WHERE update_id = 3')).rows[0]!.seq);
  // The wake-up for 3 is read first (its read returned before the one for 2).
  await (a.store as unknown as { fetchWoken(seqs: number[]): Promise<void> }).fetchWoken([seq3]);
  t.same(firstSeen(a.pushed), [1, 2, 3], 'update 2 comes with it, ahead of 3');
});

t.test('kill -9 of a replica: another takes its chats within the lease, open updates in seq order, a claimed one run again', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  for (const id of [1, 2, 3]) await acceptText(a.store, id, 20);
  await acceptText(a.store, 4, 21);
  await a.store.begin(1); // in flight at the kill
  await a.store.begin(4);
  await a.store.markReplied(4); // replied, done mark lost
  await killed(a.store);
  const killedAt = Date.now();
  await waitUntil(() => b.pushed.length === 4, 10_000, 'the takeover');
  const movedAfterMs = Date.now() - killedAt;
  t.same(b.pushed.map((r) => [r.updateId, r.state]), [[1, 'processing'], [2, 'accepted'], [3, 'accepted'], [4, 'replied']], 'every open update, in order, with its state');
  t.ok(movedAfterMs < LEASE_MS * 3, `moved within the lease plus one heartbeat (${movedAfterMs} ms, lease ${LEASE_MS} ms)`);
  t.equal((await b.store.begin(1))?.attempts, 2, 'the claimed one runs again (its second attempt)');
  t.match(b.log.text(), /took over the chats of a replica whose lease ran out/);
  t.equal(await acceptText(b.store, 5, 20), 'accepted');
  t.same(b.pushed.at(-1)?.updateId, 5, 'new updates of the moved chat go to its new owner');
});

t.test('a graceful stop gives the chats back at once (no lease wait)', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  const b = await replica(t, url, 'b');
  await acceptText(a.store, 1, 30);
  await acceptText(a.store, 2, 30);
  await a.store.close();
  await b.store.openSince(0); // nothing yet: b owns nothing
  await waitUntil(() => b.pushed.length === 2, 5_000, 'b takes the released chat');
  t.same(b.pushed.map((r) => r.updateId), [1, 2]);
});

t.test('a restart finds its own unfinished updates at once: the stopped replica gave its chats back, the new one takes them before its dispatcher starts', async (t) => {
  const url = await database(t);
  if (!url) return;
  const first = await replica(t, url, 'a');
  await acceptText(first.store, 1, 40);
  await acceptText(first.store, 2, 41);
  await first.store.begin(1);
  await first.store.close();
  const second = await replica(t, url, 'a');
  t.same((await second.store.openSince(0)).map((r) => [r.updateId, r.state]), [[1, 'processing'], [2, 'accepted']], 'both are its own when it opens');
});

t.test('two replicas starting at once migrate the schema once', async (t) => {
  const url = await database(t);
  if (!url) return;
  const [a, b] = await Promise.all([replica(t, url, 'a'), replica(t, url, 'b')]);
  const migrated = [a.log.text(), b.log.text()].filter((text) => /schema migrated/.test(text));
  t.equal(migrated.length, 1, 'one of them applied it');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  t.same((await client.query('SELECT version FROM skillgate_schema ORDER BY version')).rows.map((r) => r.version), [1, 2], 'each version recorded once');
});

t.test('every session commits synchronously, even where the database default says off', async (t) => {
  const url = await database(t);
  if (!url) return;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  const name = new URL(url).pathname.slice(1);
  await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
  const a = await replica(t, url, 'a');
  const pool = (a.store as unknown as { pool: pg.Pool }).pool;
  t.equal((await pool.query('SHOW synchronous_commit')).rows[0]?.synchronous_commit, 'on');
});

t.test('the send rate is split among live replicas', async (t) => {
  const url = await database(t);
  if (!url) return;
  const a = await replica(t, url, 'a');
  t.equal(a.store.liveReplicas(), 1);
  const b = await replica(t, url, 'b');
  await waitUntil(() => a.store.liveReplicas() === 2 && b.store.liveReplicas() === 2, 5_000, 'both see two');
  await killed(b.store);
  await waitUntil(() => a.store.liveReplicas() === 1, 10_000, 'a sees one again after b\'s lease');
  t.pass('the count follows the heartbeats');
});

t.test('one poller among the replicas; the next one takes over when it stops or its session dies', async (t) => {
  const url = await database(t);
  if (!url) return;
  const logger = captureLogger().logger;
  const leader = (name: string) => new PollerLeadership({ url, applicationName: name, logger, retryMs: 100 });
  const first = leader('first');
  const second = leader('second');
  const abort = new AbortController();
  t.teardown(() => {
    abort.abort();
    return Promise.all([first.release(), second.release()]);
  });
  await first.acquire(abort.signal);
  let secondWon = false;
  const waiting = second.acquire(abort.signal).then(() => (secondWon = true));
  await new Promise((r) => setTimeout(r, 400));
  t.equal(secondWon, false, 'the second waits while the first holds the lock');
  await first.release();
  await waiting;
  t.ok(second.held, 'the second polls once the first stopped');
  // A session that dies (the database closed it) loses the lock: the other replica wins it.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'second'`);
  await waitUntil(() => !second.held, 5_000, 'the second notices');
  await first.acquire(abort.signal);
  t.ok(first.held, 'the first takes over');
});

t.test('an unreachable database at start: SG_STORE_UNAVAILABLE with the fix and without the password', async (t) => {
  const url = 'postgres://skillgate:s3cret-Pa55word@127.0.0.1:1/skillgate';
  const err = await PgInboxStore.open({ url, replicaName: 'x', leaseMs: LEASE_MS, logger: captureLogger().logger }).catch((e: unknown) => e as Error);
  t.match(err, { code: 'SG_STORE_UNAVAILABLE' });
  t.match((err as Error).message, /postgres:\/\/skillgate@127\.0\.0\.1:1\/skillgate/);
  t.match((err as Error).message, /Check that PostgreSQL is running/);
  t.notMatch((err as Error).message, /s3cret-Pa55word/);
});

t.test('a user without the right to create the schema: the fix says to grant it; no password in the message', async (t) => {
  const url = await database(t);
  if (!url) return;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sg_reader') THEN CREATE ROLE sg_reader LOGIN PASSWORD 'reader-Pa55word'; END IF; END $$`);
  await admin.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
  const limited = new URL(url);
  limited.username = 'sg_reader';
  limited.password = 'reader-Pa55word';
  const err = await PgInboxStore.open({ url: limited.toString(), replicaName: 'x', leaseMs: LEASE_MS, logger: captureLogger().logger }).catch((e: unknown) => e);
  t.match(err, { code: 'SG_STORE_UNAVAILABLE', message: /Grant the DATABASE_URL user the right to create tables/ });
  t.notMatch((err as Error).message, /reader-Pa55word/);
});
