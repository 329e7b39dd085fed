import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewayEnv, startGatewayProcess } from '../helpers/gateway-process.js';
import { TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';
import { DECORATOR } from '../skills/helpers.js';

const baseEnv = (dir: string, apiBase: string) => gatewayEnv(dir, apiBase);

async function fakeTelegram(t: TestContext) {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  t.teardown(() => fake.close());
  return fake;
}

t.test('a config problem exits 78 with one line per problem and no stack trace', async (t) => {
  const dir = t.testdir({});
  const p = startGatewayProcess({ TELEGRAM_BOT_TOKEN: '42:short token', PORT: 'http', TELEGRAM_MODE: 'webhook' }, dir);
  t.equal(await p.exited, 78);
  const lines = p.stderr().trim().split('\n');
  t.ok(lines.length >= 3, p.stderr());
  for (const line of lines) t.match(line, /^[A-Z_]+: \S/, `"${line}" names a variable`);
  t.match(p.stderr(), /TELEGRAM_ALLOWED_USER_IDS: is required/);
  t.match(p.stderr(), /PORT: must be an integer/);
  t.notMatch(p.stderr(), /\n\s+at /, 'no stack trace');
  t.notMatch(p.stderr() + p.stdout(), '42:short token', 'the bad token is not echoed');
});

t.test('a .env in the working directory is read', async (t) => {
  const dir = t.testdir({ '.env': 'TELEGRAM_BOT_TOKEN=nope\n' });
  const p = startGatewayProcess({}, dir);
  t.equal(await p.exited, 78);
  t.match(p.stderr(), /TELEGRAM_BOT_TOKEN: must look like/);
});

t.test('a missing TLS certificate exits 78 and says how to make one', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir({ skills: {} });
  const p = startGatewayProcess({ ...baseEnv(dir, fake.apiBase), TLS: 'on', HOST: '127.0.0.1', TLS_CERT_FILE: path.join(dir, 'nope.pem') }, dir);
  t.equal(await p.exited, 78);
  t.match(p.stderr(), /TLS_CERT_FILE\/TLS_KEY_FILE: cannot read .*npm run certs/);
});

t.test('a token Telegram rejects exits 78 naming TELEGRAM_BOT_TOKEN', async (t) => {
  const fake = await FakeTelegram.start({ token: '999:DifferentTokenDifferentToken_xyz' });
  t.teardown(() => fake.close());
  const dir = t.testdir({ skills: {} });
  const p = startGatewayProcess(baseEnv(dir, fake.apiBase), dir);
  t.equal(await p.exited, 78);
  t.match(p.stderr(), /TELEGRAM_BOT_TOKEN: was rejected by Telegram/);
  t.notMatch(p.stdout() + p.stderr(), TEST_TOKEN.split(':')[1]!);
});

t.test('a .env at 0644 and a DATA_DIR at 0755 get one WARN each at start, naming the chmod', async (t) => {
  const fake = await FakeTelegram.start({ token: '999:DifferentTokenDifferentToken_xyz' });
  t.teardown(() => fake.close());
  const dir = t.testdir({ skills: {}, data: {}, '.env': `TELEGRAM_WEBHOOK_SECRET=${TEST_SECRET}\n` });
  fs.chmodSync(path.join(dir, '.env'), 0o644);
  fs.chmodSync(path.join(dir, 'data'), 0o755);
  const p = startGatewayProcess(baseEnv(dir, fake.apiBase), dir);
  await p.exited;
  const warnings = p.stdout().split('\n').filter((l) => l.includes('Permissions:'));
  t.equal(warnings.length, 2, p.stdout());
  t.match(warnings[0], /\.env is open to other users \(mode 0644\); fix with: chmod 600 \.env/);
  t.match(warnings[1], /DATA_DIR data is open to other users \(mode 0755\); fix with: chmod 700 data/);
  t.notMatch(p.stdout() + p.stderr(), TEST_SECRET, 'no secret in those lines');
});

t.test('a port in use exits 1 with one clear line naming the port and lsof', async (t) => {
  const fake = await fakeTelegram(t);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = t.testdir({ skills: {} });
  const p = startGatewayProcess({ ...baseEnv(dir, fake.apiBase), PORT: String(port) }, dir);
  t.equal(await p.exited, 1);
  t.match(p.stderr(), new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use.*lsof -i :${port}`));
  t.equal(p.stderr().trim().split('\n').length, 1, 'one line on stderr');
});

t.test('SIGTERM stops a running gateway cleanly with exit 0; secrets never reach the log', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir({ skills: {} });
  const p = startGatewayProcess(baseEnv(dir, fake.apiBase), dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  await p.waitForOutput(/Listening on HTTP port \d+/);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
  const log = p.stdout() + p.stderr();
  t.match(log, /Starting skillgate/);
  t.match(log, /Configured interface: Telegram webhooks/);
  t.match(log, /Connection verified with the Telegram Bot API: @skillgate_demo_bot/);
  t.match(log, /Stopped/);
  t.notMatch(log, TEST_TOKEN.split(':')[1]!, 'no bot token');
  t.notMatch(log, TEST_SECRET, 'no webhook secret');
});

t.test('polling mode answers through getUpdates with the same pipeline', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir({ skills: {} });
  const env = { ...baseEnv(dir, fake.apiBase), TELEGRAM_MODE: 'polling', TELEGRAM_CHAT_SEND_RATE: '100' };
  delete (env as Record<string, string | undefined>).TELEGRAM_WEBHOOK_SECRET;
  const p = startGatewayProcess(env, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  await p.waitForOutput(/Configured interface: Telegram long polling/);
  fake.enqueueUpdate(fake.textUpdate({ id: 111 }, '/whoami'));
  fake.enqueueUpdate(fake.textUpdate({ id: 222 }, '/whoami'));
  const [reply] = await fake.waitForMessages(1, 15_000);
  t.match(reply!.text, /Your Telegram user id is 111/);
  await p.waitForOutput(/Security Filter: Unauthorized request from user_id: 222/);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
  t.equal(fake.sent.length, 1, 'the stranger got nothing');
  t.notMatch(p.stdout(), /Listening on HTTP/, 'no public listener in polling mode');
});

const SLOW_ONCE = `${DECORATOR}import os, time

@skill("Slow the first time, quick afterwards.")
def slow_once() -> str:
    if not os.path.exists("first-run-done"):
        open("first-run-done", "w").close()
        time.sleep(60)
    return "finished properly"
`;

t.test('SIGTERM past the grace period answers nothing and the update is handled after the restart', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir({ skills: { 'slow.py': SLOW_ONCE }, workspace: {} });
  const env = { ...baseEnv(dir, fake.apiBase), SHUTDOWN_GRACE_MS: '300' };
  const first = startGatewayProcess(env, dir);
  t.teardown(() => first.child.kill('SIGKILL'));
  await first.waitForOutput(/Listening on HTTP port (\d+)/);
  const port = Number(/Listening on HTTP port (\d+)/.exec(first.stdout())![1]);
  const update = fake.textUpdate({ id: 111 }, '/run slow_once');
  const res = await fetch(`http://127.0.0.1:${port}/telegram/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET },
    body: JSON.stringify(update),
  });
  t.equal(res.status, 200);
  await first.waitForOutput(/Message routed/);
  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0);
  t.equal(fake.sent.length, 0, 'no "cancelled" answer was sent');

  const second = startGatewayProcess(env, dir);
  t.teardown(() => second.child.kill('SIGKILL'));
  const [reply] = await fake.waitForMessages(1, 30_000);
  t.equal(reply!.text, 'finished properly');
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
  t.equal(fake.sent.length, 1, 'answered exactly once');
});

t.test('a config error still exits 78 when the Discord alert cannot be delivered', async (t) => {
  const dir = t.testdir({});
  const p = startGatewayProcess({ TELEGRAM_BOT_TOKEN: 'bad', DISCORD_WEBHOOK_URL: 'http://127.0.0.1:9/api/webhooks/1/unreachable-token' }, dir);
  t.equal(await p.exited, 78);
  t.match(p.stderr(), /TELEGRAM_BOT_TOKEN: must look like/);
  t.notMatch(p.stderr() + p.stdout(), 'unreachable-token');
});
