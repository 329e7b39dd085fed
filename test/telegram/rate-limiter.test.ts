import t from 'tap';
import { DEFAULT_SEND_RATE_LIMITS, SendRateLimiter } from '../../src/telegram/rate-limiter.js';

/** A clock the test moves; acquire() only waits when the buckets say so. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Whether acquire resolves without any timer: a wait of 0. */
async function immediate(limiter: SendRateLimiter, chatId: number): Promise<boolean> {
  let done = false;
  const pending = limiter.acquire(chatId).then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  const was = done;
  await pending;
  return was;
}

t.test('Telegram\'s limits are the default: 30 per second overall, 1 per second per chat', async (t) => {
  t.same(DEFAULT_SEND_RATE_LIMITS, { globalPerSecond: 30, perChatPerSecond: 1 });
});

t.test('one chat gets a burst of 3, then waits for its next token', async (t) => {
  const c = clock();
  const limiter = new SendRateLimiter({ globalPerSecond: 1_000, perChatPerSecond: 1_000 / 1 }, c.now);
  // A very fast per-chat rate: the fourth message waits ~1 ms, not a second, so the test is quick.
  for (let i = 0; i < 3; i++) t.equal(await immediate(limiter, 7), true, `message ${i + 1} at once`);
  t.equal(await immediate(limiter, 7), false, 'the fourth waits');
});

t.test('a chat whose burst is spent does not hold back another chat', async (t) => {
  const c = clock();
  const limiter = new SendRateLimiter({ globalPerSecond: 1_000, perChatPerSecond: 1_000 }, c.now);
  for (let i = 0; i < 3; i++) await limiter.acquire(1);
  t.equal(await immediate(limiter, 2), true);
});

t.test('tokens come back with time', async (t) => {
  const c = clock();
  const limiter = new SendRateLimiter({ globalPerSecond: 30, perChatPerSecond: 1 }, c.now);
  for (let i = 0; i < 3; i++) await limiter.acquire(5);
  c.advance(1_000);
  t.equal(await immediate(limiter, 5), true, 'one second later one more goes at once');
});

t.test('the global bucket limits all chats together', async (t) => {
  const c = clock();
  const limiter = new SendRateLimiter({ globalPerSecond: 2, perChatPerSecond: 1_000 }, c.now);
  t.equal(await immediate(limiter, 1), true);
  t.equal(await immediate(limiter, 2), true);
  c.advance(499);
  t.equal(await immediate(limiter, 3), false, 'a third chat waits for the global bucket');
});

t.test('among replicas the overall limit is split: half the burst each of two, the whole once alone again', async (t) => {
  const c = clock();
  let share = 1;
  // 10 per second overall: a burst of 10 alone, 5 with two replicas; chats never limit here.
  const limiter = new SendRateLimiter({ globalPerSecond: 10, perChatPerSecond: 1_000 }, c.now, () => share);
  share = 0.5;
  const burst = async () => {
    let n = 0;
    while (n < 20 && (await immediate(limiter, 1_000 + n))) n++;
    return n;
  };
  t.equal(await burst(), 5, 'two live replicas: 5 at once');
  c.advance(10_000);
  share = 1;
  t.equal(await burst(), 5, 'alone again: the tokens saved at the old rate carry over, none are invented');
  c.advance(1_500); // the probe that found the bucket empty took a token too
  t.equal(await burst(), 10, 'and the full burst of 10 is back within a second or two');
});
