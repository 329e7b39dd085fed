import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Agent, request } from 'undici';
import { FakeDiscord } from '../../fakes/discord.js';
import { TEST_SECRET } from '../helpers/logger.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';
import { DECORATOR } from '../skills/helpers.js';
import { waitUntil } from '../inbox/helpers.js';

const OWNER = { id: 111, first_name: 'Ada' };

/** Mounts a small tmpfs at `dir`; returns why not when this machine will not let us. */
function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

/** Writes zeros into `file` until the file system refuses (ENOSPC). */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let i = 0; i < 100_000; i++) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

const data = path.join(t.testdir({ skills: { 'hello.py': `${DECORATOR}\n@skill("Say hello.")\ndef hello() -> str:\n    return "hi"\n` }, workspace: {}, data: {} }), 'data');
const noTmpfs = mountTmpfs(data, '3m');

t.test('a full DATA_DIR: 503 with Retry-After, /readyz 503 with the reason, one alert, recovery once space is freed, nothing accepted lost', { skip: noTmpfs }, async (t) => {
  t.teardown(() => execFileSync('umount', ['-l', data]));
  const dir = path.dirname(data);
  const discord = await FakeDiscord.start();
  t.teardown(() => discord.close());
  // ADMIN_PORT=0 turns the admin listener off (no free-port race), so readiness is asked directly.
  const { gateway, telegram, tls, url, log } = await startWebhookGateway(t, { dir, env: { DISCORD_WEBHOOK_URL: discord.url } });
  const agent = new Agent({ connect: { ca: tls.cert } });
  t.teardown(() => agent.close());
  const readiness = () => (gateway as unknown as { readiness(): Promise<{ ready: boolean; reasons: string[] }> }).readiness();

  const acked = new Set<number>();
  const push = async (update: { update_id: number }) => {
    const res = await telegram.pushUpdate(update);
    if (res.status === 200) acked.add(update.update_id);
    return res;
  };
  t.equal((await push(telegram.textUpdate(OWNER, '/whoami'))).status, 200, 'stored while there is room');
  await telegram.waitForMessages(1);

  const filler = path.join(data, 'filler');
  fillUp(filler);
  const refused: Array<{ update_id: number }> = [];
  let sawRetryAfter = false;
  for (let i = 0; i < 20 && refused.length < 3; i++) {
    const update = telegram.textUpdate(OWNER, `/whoami ${i}`);
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET },
      body: JSON.stringify(update),
    });
    await res.body.text();
    if (res.statusCode === 200) acked.add(update.update_id);
    else {
      t.equal(res.statusCode, 503, 'refused with 503 while the disk is full');
      sawRetryAfter ||= res.headers['retry-after'] !== undefined;
      refused.push(update);
    }
  }
  t.ok(refused.length >= 3, `updates refused while full (${refused.length})`);
  t.ok(sawRetryAfter, '503 carries Retry-After');
  const notReady = await readiness();
  t.equal(notReady.ready, false);
  t.match(notReady.reasons.join('; '), /store cannot write: .*full/i, '/readyz names the reason');
  await discord.waitFor(() => discord.delivered.some((c) => /Inbox store cannot write/.test(c)), 10_000, 'the store alert');
  t.match(await gateway.metrics.render(), /skillgate_inbox_writable 0/);

  fs.rmSync(filler);
  await waitUntil(() => log.text().includes('Inbox store writes again'), 10_000, 'the probe to find room again');
  t.same((await readiness()).reasons, [], 'ready again without a restart');
  for (const update of refused) t.equal((await push(update)).status, 200, 'the redelivery is accepted');
  await waitUntil(() => gateway.store.pendingCount() === 0, 15_000, 'every accepted update to be handled');
  t.ok(telegram.sent.length >= acked.size, `every acked update answered (${telegram.sent.length} replies, ${acked.size} acked)`);
  t.equal(discord.delivered.filter((c) => /Inbox store cannot write/.test(c)).length, 1, 'one alert for the episode');
});
