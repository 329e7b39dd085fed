import t from 'tap';
import { ConcurrencyLimiter } from '../../src/skills/limiter.js';

t.test('up to max calls get a slot at once', async (t) => {
  const limiter = new ConcurrencyLimiter(2, 5);
  t.type(await limiter.acquire(), 'function');
  t.type(await limiter.acquire(), 'function');
  t.equal(limiter.running, 2);
  t.equal(limiter.waiting, 0);
});

t.test('waiters get slots in FIFO order as slots are released', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5);
  const first = (await limiter.acquire())!;
  const order: string[] = [];
  const a = limiter.acquire().then((release) => (order.push('a'), release));
  const b = limiter.acquire().then((release) => (order.push('b'), release));
  t.equal(limiter.waiting, 2);
  first();
  const releaseA = (await a)!;
  t.same(order, ['a']);
  t.equal(limiter.running, 1);
  releaseA();
  (await b)!();
  t.same(order, ['a', 'b']);
  t.equal(limiter.running, 0);
});

t.test('beyond the queue a call is refused at once', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 1);
  await limiter.acquire();
  void limiter.acquire();
  t.equal(await limiter.acquire(), undefined);
  t.equal(limiter.waiting, 1);
});

t.test('releasing twice frees one slot only', async (t) => {
  const limiter = new ConcurrencyLimiter(2, 0);
  const release = (await limiter.acquire())!;
  await limiter.acquire();
  release();
  release();
  t.equal(limiter.running, 1);
});

t.test('an aborted signal refuses before queueing, and an abort while waiting leaves the queue', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5);
  t.equal(await limiter.acquire(AbortSignal.abort()), undefined, 'already aborted');
  const held = (await limiter.acquire())!;
  const controller = new AbortController();
  const waiting = limiter.acquire(controller.signal);
  t.equal(limiter.waiting, 1);
  controller.abort();
  t.equal(await waiting, undefined);
  t.equal(limiter.waiting, 0);
  held();
  t.equal(limiter.running, 0, 'the aborted waiter did not take the freed slot');
});
