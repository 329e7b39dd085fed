import { FakeTelegram } from '../../../fakes/telegram.js';

/**
 * FakeTelegram in its own process, for the intake run: the gateway's replies then cost the
 * bench process (which runs autocannon) nothing. Prints its API base; answers `stats` over IPC.
 */
const token = process.argv[2];
if (!token) throw new Error('usage: fake-telegram-server.ts TOKEN');
const fake = await FakeTelegram.start({ token });
process.on('message', (message) => {
  if (message === 'stats') process.send?.({ sent: fake.sent.length, calls: fake.calls.length });
});
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
process.stdout.write(`LISTENING ${fake.apiBase}\n`);
