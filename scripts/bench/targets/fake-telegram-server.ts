import { FakeTelegram } from '../../../fakes/telegram.js';

/**
 * FakeTelegram in its own process, for the intake and throughput runs: the replies then cost the
 * bench process (which drives the load) nothing. Prints its API base; answers over IPC:
 * - `'stats'`: `{ sent, calls }`;
 * - `{ mark: true }`: from now on count sendMessage calls anew; answers `{ marked: sent }`;
 * - `{ until: n, timeoutMs }`: answers `{ reached: n }` the moment the n-th sendMessage since the
 *   mark arrived, or `{ timedOut: count }` after `timeoutMs` (the bench never waits unbounded).
 */
const token = process.argv[2];
if (!token) throw new Error('usage: fake-telegram-server.ts TOKEN');
const fake = await FakeTelegram.start({ token });
let baseline = 0;
process.on('message', (message: unknown) => {
  if (message === 'stats') {
    process.send?.({ sent: fake.sent.length, calls: fake.calls.length });
    return;
  }
  const m = message as { mark?: boolean; until?: number; timeoutMs?: number };
  if (m.mark) {
    baseline = fake.sent.length;
    process.send?.({ marked: baseline });
  } else if (m.until !== undefined) {
    const n = m.until;
    fake.waitFor(() => fake.sent.length - baseline >= n, m.timeoutMs ?? 60_000, `${n} replies`).then(
      () => process.send?.({ reached: n }),
      () => process.send?.({ timedOut: fake.sent.length - baseline }),
    );
  }
});
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
process.stdout.write(`LISTENING ${fake.apiBase}\n`);
