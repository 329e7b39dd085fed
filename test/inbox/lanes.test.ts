import t from 'tap';
import { Lanes } from '../../src/inbox/lanes.js';
import type { OpenUpdate } from '../../src/inbox/store.js';

function update(updateId: number, chatId: number | null): OpenUpdate {
  return { seq: updateId, updateId, chatId, state: 'accepted', attempts: 0, nextAttemptAt: 0 };
}

/** Takes the next ready lane and starts its head, as the dispatcher does. */
function start(lanes: Lanes) {
  const lane = lanes.takeReady();
  if (lane) lane.running = true;
  return lane;
}

t.test('a chat\'s updates queue in update_id order, whatever order they arrive in', async (t) => {
  const lanes = new Lanes();
  for (const id of [3, 1, 2]) lanes.add(update(id, 7));
  const lane = lanes.takeReady()!;
  t.same(lane.queue.map((u) => u.updateId), [1, 2, 3]);
  t.equal(lanes.size, 1);
  t.equal(lanes.takeReady(), undefined, 'a lane is ready at most once');
});

t.test('a late, lower update_id never jumps ahead of the running head', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(5, 7));
  const lane = start(lanes)!;
  lanes.add(update(4, 7));
  t.same(lane.queue.map((u) => u.updateId), [5, 4]);
  t.equal(lanes.takeReady(), undefined, 'a running lane is not handed out again');
});

t.test('lanes take turns: a busy chat goes to the back after each update', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(1, 100));
  lanes.add(update(2, 100));
  lanes.add(update(3, 200));
  const busy = start(lanes)!;
  t.equal(busy.key, 'c100');
  busy.queue.shift();
  lanes.release(busy);
  t.equal(start(lanes)!.key, 'c200', 'the other chat runs before the busy chat\'s second update');
  t.equal(start(lanes)!.key, 'c100');
});

t.test('updates without a chat each get their own lane', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(1, null));
  lanes.add(update(2, null));
  t.equal(lanes.size, 2);
  t.same([lanes.takeReady()!.key, lanes.takeReady()!.key], ['u1', 'u2']);
});

t.test('an emptied lane is forgotten on release', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(1, 9));
  const lane = start(lanes)!;
  lane.queue.shift();
  lanes.release(lane);
  t.equal(lanes.size, 0);
  t.equal(lanes.takeReady(), undefined);
});

t.test('a parked lane is not ready until its timer fires, then wakes the caller', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(1, 9));
  const lane = start(lanes)!;
  const woken = new Promise<void>((resolve) => lanes.park(lane, 1, resolve));
  lanes.release(lane);
  lanes.add(update(2, 9));
  t.equal(lanes.takeReady(), undefined, 'waiting for its retry time');
  await woken;
  t.equal(lanes.takeReady(), lane);
});

t.test('clearTimers cancels every parked retry', async (t) => {
  const lanes = new Lanes();
  lanes.add(update(1, 9));
  const lane = start(lanes)!;
  let woke = false;
  lanes.park(lane, 1, () => (woke = true));
  lanes.clearTimers();
  t.equal(lane.timer, undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(woke, false);
});
