import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { InboxDispatcher, type InboxDispatcherOptions, type InboxUpdate, type UpdateHandler } from '../../src/inbox/dispatcher.js';
import type { InboxStore } from '../../src/inbox/store.js';
import type { AuditEntry } from '../../src/observability/audit.js';
import { createRedactor } from '../../src/observability/redact.js';
import { captureLogger, TEST_TOKEN } from '../helpers/logger.js';
import { acceptText, committedRows, openStore, recordingAlerter, waitUntil } from './helpers.js';

function dispatcherFor(t: { teardown(fn: () => unknown): void }, store: InboxStore, handler: UpdateHandler, options: Partial<InboxDispatcherOptions> = {}) {
  const log = captureLogger([TEST_TOKEN]);
  const dispatcher = new InboxDispatcher({ store, handler, concurrency: 4, logger: log.logger, rescanIntervalMs: 0, ...options });
  t.teardown(() => dispatcher.stop(0));
  return { dispatcher, log };
}

const textOf = (u: InboxUpdate) => (u.payload as { message: { text: string } }).message.text;

t.test('a burst across 50 chats is handled in order per chat, one at a time per chat, within the concurrency cap', async (t) => {
  const { store } = openStore(t.testdir(), { maxPending: 100_000 });
  t.teardown(() => store.close());
  const seen = new Map<number, number[]>();
  const running = new Set<number>();
  let active = 0;
  let maxActive = 0;
  let overlaps = 0;
  const { dispatcher } = dispatcherFor(t, store, async (u, journal) => {
    const chat = u.chatId!;
    if (running.has(chat)) overlaps++;
    running.add(chat);
    maxActive = Math.max(maxActive, ++active);
    await sleep(Math.floor(Math.random() * 4));
    seen.set(chat, [...(seen.get(chat) ?? []), u.updateId]);
    journal.markReplied();
    running.delete(chat);
    active--;
  }, { concurrency: 8 });
  dispatcher.start();
  // Interleaved ids across chats, accepted in several batches while the dispatcher runs.
  const total = 1000;
  for (let from = 1; from <= total; from += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => acceptText(store, from + i, (from + i) % 50)));
    dispatcher.notify();
  }
  await waitUntil(() => store.pendingCount() === 0, 30_000, 'the burst to drain');
  t.equal([...seen.values()].reduce((n, ids) => n + ids.length, 0), total, 'every update handled exactly once');
  t.equal(seen.size, 50);
  for (const [chat, ids] of seen) t.same(ids, [...ids].sort((a, b) => a - b), `chat ${chat} in update_id order`);
  t.equal(overlaps, 0, 'never two updates of one chat at the same time');
  t.ok(maxActive <= 8, `at most 8 at once (saw ${maxActive})`);
  t.ok(maxActive > 1, 'chats do run in parallel');
});

t.test('updates without a chat do not wait for each other', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const started: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { dispatcher } = dispatcherFor(t, store, async (u) => {
    started.push(u.updateId);
    await gate;
  });
  await Promise.all([1, 2, 3].map((id) => store.accept(id, null, JSON.stringify({ update_id: id, inline_query: {} }))));
  dispatcher.start();
  await waitUntil(() => started.length === 3, 5_000, 'three chat-less updates to run together');
  release();
  await waitUntil(() => store.pendingCount() === 0);
  t.same(started.sort(), [1, 2, 3]);
});

t.test('on start, unfinished updates from a previous run are resumed in order and a replied one is not handled again', async (t) => {
  const dir = t.testdir();
  const before = openStore(dir).store;
  for (const id of [1, 2, 3, 4]) await acceptText(before, id, 7);
  await acceptText(before, 5, 8);
  before.begin(1);
  before.markReplied(1); // crashed after the reply went out, before done
  before.begin(2); // crashed mid-handling
  before.close();

  const { store } = openStore(dir);
  t.teardown(() => store.close());
  const handled: Array<[number | null, number]> = [];
  const { dispatcher, log } = dispatcherFor(t, store, async (u) => void handled.push([u.chatId, u.updateId]), { concurrency: 1 });
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  const ofChat = (chat: number) => handled.filter(([c]) => c === chat).map(([, id]) => id);
  t.same(ofChat(7), [2, 3, 4], 'chat 7 resumes in order; update 1 was already replied to and is not run again');
  t.same(ofChat(8), [5]);
  t.match(log.text(), /resuming unfinished updates/);
  t.match(log.text(), /already replied to before the restart/);
});

t.test('a failing update is retried with backoff while its chat waits, then failed, alerted and audited; the chat moves on', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const { alerts, alerter } = recordingAlerter();
  const audit: AuditEntry[] = [];
  const delays: number[] = [];
  const order: string[] = [];
  const { dispatcher } = dispatcherFor(t, store, async (u) => {
    order.push(`${u.updateId}#${u.attempts}`);
    if (u.updateId === 1) throw new Error('skill exploded');
  }, {
    maxAttempts: 3,
    backoff: (attempt) => (delays.push(attempt), 5),
    alerter,
    audit: { write: (e) => void audit.push(e) },
  });
  await acceptText(store, 1, 7);
  await acceptText(store, 2, 7);
  await acceptText(store, 3, 9);
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  await store.committed(); // pendingCount counts a queued final mark at once; failures show once it commits
  t.same(order.filter((o) => o.startsWith('1#') || o.startsWith('2#')), ['1#1', '1#2', '1#3', '2#1'], 'chat 7 waits for its failing head');
  t.same(delays, [1, 2], 'two retries after the first and second failures');
  t.match(store.stats(), { failed: 1, recentFailures: [{ updateId: 1, attempts: 3, error: 'skill exploded' }] });
  t.equal(alerts.length, 1);
  t.match(alerts[0], /Update 1 \(chat 7\) failed 3 time\(s\).*skill exploded/);
  t.match(audit, [{ update_id: 1, chat_id: 7, outcome: 'failed', error: /gave up after 3 attempt/ }]);
});

t.test('a handler that fails after marking the reply sent is not retried (no second reply)', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  let calls = 0;
  const { dispatcher, log } = dispatcherFor(t, store, async (_u, journal) => {
    calls++;
    journal.markReplied();
    throw new Error('audit write failed after the reply');
  });
  await acceptText(store, 1, 7);
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  t.equal(calls, 1);
  t.equal(store.failedCount(), 0);
  t.match(log.text(), /not retrying, so the reply is not sent twice/);
});

t.test('secrets in handler errors are redacted before they reach the store, the log and the alert', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const { alerts, alerter } = recordingAlerter();
  const { dispatcher, log } = dispatcherFor(t, store, async () => {
    throw new Error(`request to https://api.telegram.org/bot${TEST_TOKEN}/sendMessage failed`);
  }, { maxAttempts: 1, alerter, redact: createRedactor([TEST_TOKEN]) });
  await acceptText(store, 1, 7);
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  await store.committed(); // pendingCount counts a queued final mark at once; failures show once it commits
  const stored = JSON.stringify(store.recentFailures());
  for (const text of [stored, alerts.join('\n'), log.text()]) {
    t.notMatch(text, TEST_TOKEN.split(':')[1]!);
    t.match(text, /REDACTED/);
  }
});

t.test('an update whose payload is not JSON fails at once instead of being retried', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  let calls = 0;
  const { dispatcher } = dispatcherFor(t, store, async () => void calls++);
  await store.accept(1, 7, '{not json');
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  await store.committed(); // pendingCount counts a queued final mark at once; failures show once it commits
  t.equal(calls, 0);
  t.equal(store.failedCount(), 1);
});

t.test('stop(grace) finishes in-flight work, starts nothing new, and leaves the rest for the next start', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  const handled: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { dispatcher } = dispatcherFor(t, store, async (u, journal) => {
    await gate;
    handled.push(u.updateId);
    journal.markReplied();
  }, { concurrency: 1 });
  for (const id of [1, 2, 3]) await acceptText(store, id, 7);
  dispatcher.start();
  await waitUntil(() => dispatcher.activeCount === 1);
  const stopped = dispatcher.stop(10_000);
  release();
  await stopped;
  t.same(handled, [1], 'the in-flight update finished; nothing new started');
  store.close();

  const next = openStore(dir).store;
  t.teardown(() => next.close());
  const later: number[] = [];
  const { dispatcher: second } = dispatcherFor(t, next, async (u) => void later.push(u.updateId));
  second.start();
  await waitUntil(() => next.pendingCount() === 0);
  t.same(later, [2, 3]);
});

t.test('stop(grace) gives up waiting for a hung handler after the grace period; the update runs again next start', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  const { dispatcher, log } = dispatcherFor(t, store, () => new Promise<void>(() => {}));
  await acceptText(store, 1, 7);
  dispatcher.start();
  await waitUntil(() => dispatcher.activeCount === 1);
  await dispatcher.stop(20);
  t.match(log.text(), /still running after the shutdown grace period/);
  store.close();

  t.match(await replayAfterRestart(t, dir), [{ updateId: 1, attempts: 2 }], 'attempts survive the restart');
});

t.test('notify picks up newly accepted updates without waiting for a rescan', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const texts: string[] = [];
  const { dispatcher } = dispatcherFor(t, store, async (u) => void texts.push(textOf(u)));
  dispatcher.start();
  await acceptText(store, 1, 7, 'first');
  dispatcher.notify();
  await waitUntil(() => texts.length === 1, 5_000, 'the update to run');
  t.same(texts, ['first']);
});

t.test('the dispatcher refuses a concurrency below 1', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  t.throws(() => new InboxDispatcher({ store, handler: async () => {}, concurrency: 0, logger: captureLogger().logger }), /CHAT_CONCURRENCY/);
});

t.test('an update whose earlier runs all died with the process is set aside, not run again', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  await acceptText(store, 77, 1);
  // Five claims that never finished: what five crashes in a row while handling it leave behind.
  for (let i = 0; i < 5; i++) store.begin(77);
  const { alerts, alerter } = recordingAlerter();
  let ran = 0;
  const { dispatcher } = dispatcherFor(t, store, async () => void ran++, { alerter, maxAttempts: 5 });
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0, 10_000, 'the update to be set aside');
  t.equal(ran, 0, 'the handler was not called again');
  await store.committed();
  t.equal(store.failedCount(), 1);
  t.match(alerts.join('\n'), /crash loop/);
});

t.test('a handler starts only once its claim, and the previous reply mark of its chat, are committed (what a kill -9 would find)', async (t) => {
  const { store } = openStore(t.testdir());
  t.teardown(() => store.close());
  const stateOf = (id: number) => (committedRows(store.file, 'SELECT state FROM updates WHERE update_id = ?', id)[0] as { state: string } | undefined)?.state;
  const seen: Array<[number, unknown, unknown]> = [];
  const { dispatcher } = dispatcherFor(t, store, async (u, journal) => {
    // A copy of the files holds only what is committed: what a restart after kill -9 would read.
    seen.push([u.updateId, stateOf(u.updateId), u.updateId > 1 ? stateOf(u.updateId - 1) : undefined]);
    journal.markReplied();
  });
  for (const id of [1, 2, 3]) await acceptText(store, id, 7);
  dispatcher.start();
  await waitUntil(() => store.pendingCount() === 0);
  t.same(seen, [
    [1, 'processing', undefined],
    [2, 'processing', 'done'],
    [3, 'processing', 'done'],
  ]);
});

t.test('a claim whose commit lands as the store closes does not start its handler; it runs at the next start', async (t) => {
  const dir = t.testdir();
  const { store } = openStore(dir);
  const ran: number[] = [];
  const { dispatcher } = dispatcherFor(t, store, async (u) => void ran.push(u.updateId));
  await acceptText(store, 1, 7);
  dispatcher.start(); // claims update 1 and waits for the claim's commit
  store.close(); // shutdown past its grace period: the commit lands, the store is gone
  await sleep(20);
  t.same(ran, [], 'nothing sent whose outcome could not be recorded');

  t.match(await replayAfterRestart(t, dir), [{ updateId: 1, attempts: 2 }]);
});

/** Reopens the store in `dir` with a fresh dispatcher and returns what it handled once idle. */
async function replayAfterRestart(t: TestContext, dir: string): Promise<InboxUpdate[]> {
  const next = openStore(dir).store;
  t.teardown(() => next.close());
  const again: InboxUpdate[] = [];
  const { dispatcher: second } = dispatcherFor(t, next, async (u) => void again.push(u));
  second.start();
  await waitUntil(() => next.pendingCount() === 0);
  return again;
}
