import t from 'tap';
import { request } from 'undici';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewayEnv, startGatewayProcess, type RunningProcess } from '../helpers/gateway-process.js';
import { TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';

const CHATS = 20;
const UPDATES = 600;
const CHAT_CONCURRENCY = 4;
const IN_FLIGHT = 16;

async function portOf(p: RunningProcess): Promise<number> {
  await p.waitForOutput(/Listening on HTTP port \d+/);
  return Number(/Listening on HTTP port (\d+)/.exec(p.stdout())![1]);
}

/** Posts updates with bounded concurrency; returns the ids that got a 200. Stops at `stopAfter` acks. */
async function deliver(port: number, updates: object[], stopAfter = Infinity): Promise<Set<number>> {
  const acked = new Set<number>();
  let next = 0;
  const worker = async () => {
    while (next < updates.length && acked.size < stopAfter) {
      const update = updates[next++] as { update_id: number };
      try {
        const res = await request(`http://127.0.0.1:${port}/telegram/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET },
          body: JSON.stringify(update),
        });
        await res.body.dump();
        if (res.statusCode === 200) acked.add(update.update_id);
      } catch {
        return; // the gateway died under us: what was not acked stays with "Telegram"
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return acked;
}

t.test('kill -9 mid-burst: after restart every accepted update is answered once, in order per chat', async (t) => {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  t.teardown(() => fake.close());
  const dir = t.testdir({ skills: {} });
  const env = gatewayEnv(dir, fake.apiBase, {
    TELEGRAM_ALLOWED_USER_IDS: Array.from({ length: CHATS }, (_, i) => 1000 + i).join(','),
    TELEGRAM_SEND_RATE: '100000',
    TELEGRAM_CHAT_SEND_RATE: '100000',
    CHAT_CONCURRENCY: String(CHAT_CONCURRENCY),
  });
  const updates = Array.from({ length: UPDATES }, (_, i) => {
    const id = 5000 + i;
    const user = { id: 1000 + (i % CHATS), first_name: 'U' };
    return { ...fake.textUpdate(user, `/c${id}`), update_id: id };
  });

  const first = startGatewayProcess(env, dir);
  t.teardown(() => first.child.kill('SIGKILL'));
  const acked = await deliver(await portOf(first), updates, UPDATES / 2);
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(acked.size >= UPDATES / 2 - IN_FLIGHT, `about half acked before the crash (${acked.size})`);

  const second = startGatewayProcess(env, dir);
  t.teardown(() => second.child.kill('SIGTERM'));
  // Telegram redelivers whatever did not get a 200.
  for (const id of await deliver(await portOf(second), updates.filter((u) => !acked.has(u.update_id)))) acked.add(id);
  t.equal(acked.size, UPDATES, 'every update eventually acked');

  const answered = () => fake.sent.map((m) => Number(/\/c(\d+)/.exec(m.text)?.[1]));
  await fake.waitFor(() => new Set(answered()).size >= UPDATES, 60_000, 'every update answered');
  const counts = new Map<number, number>();
  for (const id of answered()) counts.set(id, (counts.get(id) ?? 0) + 1);
  const lost = [...acked].filter((id) => !counts.has(id));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  t.same(lost, [], 'nothing accepted was lost');
  // Only an update caught between its sendMessage and the commit of "replied" may repeat:
  // at most one per chat being worked on when the process died.
  t.ok(doubled.length <= CHAT_CONCURRENCY, `at most ${CHAT_CONCURRENCY} answered twice (got ${doubled.length}: ${doubled})`);

  for (let chat = 0; chat < CHATS; chat++) {
    const ids = fake.sent.filter((m) => m.chat_id === 1000 + chat).map((m) => Number(/\/c(\d+)/.exec(m.text)![1]));
    const firstSeen = ids.filter((id, i) => ids.indexOf(id) === i);
    t.same(firstSeen, [...firstSeen].sort((a, b) => a - b), `chat ${chat} answered in update order`);
  }
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});
