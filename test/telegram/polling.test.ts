import t from 'tap';
import type { InboxStore } from '../../src/inbox/store.js';
import { createRedactor } from '../../src/observability/redact.js';
import { TelegramApi } from '../../src/telegram/api-client.js';
import { POLLING_OFFSET_KEY, TelegramPoller, type TelegramPollerOptions } from '../../src/telegram/polling.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { ALLOWED_UPDATES } from '../../src/telegram/allowed-updates.js';
import { captureLogger, TEST_TOKEN } from '../helpers/logger.js';
import { openStore, recordingAlerter, textUpdate, waitUntil } from '../inbox/helpers.js';

async function setup(t: { teardown(fn: () => unknown): void; testdir(): string }, options: { maxPending?: number } = {}) {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  const log = captureLogger([TEST_TOKEN]);
  const api = new TelegramApi({ token: TEST_TOKEN, apiBase: fake.apiBase, logger: log.logger, redact: createRedactor([TEST_TOKEN]) });
  const { store } = openStore(t.testdir(), options);
  const { alerts, alerter } = recordingAlerter();
  let notified = 0;
  const pollers: TelegramPoller[] = [];
  const poller = (over: Partial<TelegramPollerOptions> = {}) => {
    const p = new TelegramPoller({
      api,
      store,
      dispatcher: { notify: () => void notified++ },
      logger: log.logger,
      alerter,
      timeoutSeconds: 30,
      backoff: () => 5,
      ...over,
    });
    pollers.push(p);
    return p;
  };
  t.teardown(async () => {
    for (const p of pollers) await p.stop();
    store.close();
    await api.close();
    await fake.close();
  });
  return { fake, api, store, log, alerts, poller, notified: () => notified };
}

const storedIds = (store: InboxStore) => store.openSince(0, 1000).map((r) => [r.updateId, r.chatId]);
const offsetsAsked = (fake: FakeTelegram) => fake.callsOf('getUpdates').map((c) => c.params.offset);

t.test('polling stores updates with their chat, wakes the dispatcher and saves the offset after the commit', async (t) => {
  const { fake, store, poller, notified } = await setup(t);
  poller().start();
  fake.enqueueUpdate(textUpdate(100, 7));
  fake.enqueueUpdate({ update_id: 101, callback_query: { id: 'q', from: { id: 8 }, message: { message_id: 1, chat: { id: 8 } } } });
  await waitUntil(() => store.getMeta(POLLING_OFFSET_KEY) === '102', 10_000, 'the offset to be saved');
  t.same(storedIds(store), [[100, 7], [101, 8]]);
  t.ok(notified() >= 1);
  await waitUntil(() => offsetsAsked(fake).includes(102), 10_000, 'the next poll to confirm the offset');
});

t.test('a restarted poller continues from the saved offset', async (t) => {
  const { fake, store, poller } = await setup(t);
  store.setMeta(POLLING_OFFSET_KEY, '500');
  poller().start();
  await waitUntil(() => fake.callsOf('getUpdates').length > 0, 10_000, 'a poll');
  t.equal(offsetsAsked(fake)[0], 500);
});

t.test('updates fetched again after a crash before the offset was saved are deduped', async (t) => {
  const { fake, store, poller } = await setup(t);
  await store.accept(1, 7, JSON.stringify(textUpdate(1, 7))); // committed, offset never saved
  poller().start();
  fake.enqueueUpdate(textUpdate(1, 7));
  fake.enqueueUpdate(textUpdate(2, 7));
  await waitUntil(() => store.getMeta(POLLING_OFFSET_KEY) === '3');
  t.equal(store.pendingCount(), 2);
  t.same(storedIds(store), [[1, 7], [2, 7]]);
});

t.test('a 409 Conflict is explained once with the fix, alerted, and polling recovers when the webhook is gone', async (t) => {
  const { fake, api, store, log, alerts, poller } = await setup(t);
  await api.setWebhook({ url: 'https://bot.example.com/telegram/webhook' });
  poller().start();
  await waitUntil(() => fake.callsOf('getUpdates').length >= 3, 10_000, 'several conflicting polls');
  const conflictLines = log.lines.filter((l) => l.includes('409 Conflict'));
  t.equal(conflictLines.length, 1, 'one line, not one per retry');
  t.match(conflictLines[0], /webhook is set/);
  t.match(conflictLines[0], /npm run webhook:delete/);
  t.match(conflictLines[0], /another process is polling/);
  t.equal(alerts.length, 1);
  await api.deleteWebhook();
  fake.enqueueUpdate(textUpdate(9, 3));
  await waitUntil(() => store.pendingCount() === 1, 10_000, 'polling to resume');
  t.match(log.text(), /conflict is over/);
});

t.test('a dropped connection is retried with backoff and polling goes on', async (t) => {
  const { fake, store, log, poller } = await setup(t);
  fake.failNext('getUpdates', { status: 0, drop: true }, { status: 502 });
  poller().start();
  fake.enqueueUpdate(textUpdate(5, 4));
  await waitUntil(() => store.pendingCount() === 1, 10_000, 'the update after the reconnect');
  t.match(log.text(), /getUpdates failed; reconnecting with backoff/);
  t.ok(fake.callsOf('getUpdates').length >= 3);
});

t.test('a rejected token is reported with the variable to check', async (t) => {
  const { fake, log, alerts, poller } = await setup(t);
  fake.failNext('getUpdates', { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } });
  poller().start();
  await waitUntil(() => fake.callsOf('getUpdates').length >= 2, 10_000, 'a retry after the 401');
  t.match(log.text(), /check TELEGRAM_BOT_TOKEN/);
  t.equal(alerts.length, 1);
  t.notMatch(log.text(), TEST_TOKEN.split(':')[1]!);
});

t.test('when the inbox is full the offset stops before the update that did not fit, which is fetched again later', async (t) => {
  const { fake, store, poller } = await setup(t, { maxPending: 2 });
  poller().start();
  for (const id of [10, 11, 12]) fake.enqueueUpdate(textUpdate(id, 1));
  await waitUntil(() => store.pendingCount() === 2, 10_000, 'the inbox to fill');
  await waitUntil(() => store.getMeta(POLLING_OFFSET_KEY) === '12');
  store.begin(10);
  store.markDone(10);
  await waitUntil(() => store.getMeta(POLLING_OFFSET_KEY) === '13', 10_000, 'the last update after room was made');
  t.same(storedIds(store), [[11, 1], [12, 1]]);
});

t.test('stop() aborts a long poll in progress', async (t) => {
  const { fake, poller } = await setup(t);
  const p = poller({ timeoutSeconds: 50 });
  p.start();
  await waitUntil(() => fake.callsOf('getUpdates').length === 1, 10_000, 'the long poll');
  let bound: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([p.stop().then(() => 'stopped'), new Promise((r) => (bound = setTimeout(r, 5_000, 'still waiting')))]);
  clearTimeout(bound);
  t.equal(outcome, 'stopped');
});

t.test('every getUpdates asks for the same allowed_updates the webhook registers', async (t) => {
  const { fake, poller } = await setup(t);
  poller({ timeoutSeconds: 0 }).start();
  await waitUntil(() => fake.callsOf('getUpdates').length >= 2, 10_000, 'two polls');
  for (const call of fake.callsOf('getUpdates')) t.same(call.params.allowed_updates, [...ALLOWED_UPDATES]);
});

t.test('a server that answers empty at once is not hammered: minimum interval, then backoff', async (t) => {
  const { fake, poller, log } = await setup(t);
  fake.answerPollsAtOnce = true;
  // Defaults for the interval and the empty-answer backoff: what the gateway uses.
  poller({ backoff: undefined }).start();
  await new Promise((r) => setTimeout(r, 2_000));
  const calls = fake.callsOf('getUpdates').length;
  t.ok(calls >= 2 && calls <= 12, `${calls} getUpdates calls in 2 s (250 ms doubling: about 5)`);
  t.match(log.text(), /keeps answering empty at once/);
  // Real updates still flow, and the backoff resets.
  fake.enqueueUpdate(textUpdate(900, 1));
  await waitUntil(() => fake.callsOf('getUpdates').some((c) => c.params.offset === 901), 10_000, 'the update to be confirmed');
});

t.test('failing answers are spaced by the minimum interval even with no backoff', async (t) => {
  const { fake, poller } = await setup(t);
  fake.failNext('getUpdates', ...Array.from({ length: 200 }, () => ({ status: 502 })));
  poller({ backoff: () => 0 }).start();
  await new Promise((r) => setTimeout(r, 1_000));
  const calls = fake.callsOf('getUpdates').length;
  t.ok(calls >= 2 && calls <= 12, `${calls} getUpdates calls in 1 s with a 100 ms minimum interval`);
});

// What the two-replica test's "no 409" relies on: the fake ends a held long poll when a second
// one arrives, as Telegram does when two bot instances poll, and tells the callers apart.
t.test('two processes polling one token: the held getUpdates ends with 409 Conflict, and each caller is recorded', async (t) => {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  t.teardown(() => fake.close());
  const call = (client: string) =>
    fetch(`${fake.apiBase}/${client}/bot${TEST_TOKEN}/getUpdates?timeout=30`).then(async (res) => ({ status: res.status, body: (await res.json()) as { description?: string } }));
  const first = call('replica-a');
  await waitUntil(() => fake.callsOf('getUpdates').length === 1, 5_000, 'the first poll held');
  const second = call('replica-b');
  const ended = await first;
  t.equal(ended.status, 409);
  t.match(ended.body.description, /terminated by other getUpdates request/);
  t.equal(fake.pollConflicts, 1);
  fake.enqueueUpdate({ update_id: 1 });
  t.equal((await second).status, 200, 'the newer poll goes on and gets the update');
  t.same(fake.callsOf('getUpdates').map((c) => c.client), ['replica-a', 'replica-b']);
});
