import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { TelegramApi } from '../../src/telegram/api-client.js';
import { TelegramApiError, TelegramNetworkError } from '../../src/telegram/errors.js';
import { createRedactor } from '../../src/observability/redact.js';
import { Metrics } from '../../src/observability/metrics.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { captureLogger, TEST_TOKEN } from '../helpers/logger.js';

async function setup(t: TestContext, options: { maxAttempts?: number } = {}) {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  const log = captureLogger([TEST_TOKEN]);
  const metrics = new Metrics();
  const api = new TelegramApi({
    token: TEST_TOKEN,
    apiBase: fake.apiBase,
    logger: log.logger,
    redact: createRedactor([TEST_TOKEN]),
    metrics,
    sendRateLimits: { globalPerSecond: 1000, perChatPerSecond: 1000 },
    ...options,
  });
  t.teardown(async () => {
    await api.close();
    await fake.close();
  });
  return { fake, api, log, metrics };
}

t.test('getMe returns the bot', async (t) => {
  const { api } = await setup(t);
  const me = await api.getMe();
  t.equal(me.username, 'skillgate_demo_bot');
});

t.test('sendMessage splits long text into chunks of at most 4096 units', async (t) => {
  const { api, fake } = await setup(t);
  const text = Array.from({ length: 120 }, (_, i) => `line ${i} ${'x'.repeat(80)}`).join('\n');
  const sent = await api.sendMessage(42, text);
  t.ok(sent.length >= 3);
  t.equal(fake.sent.length, sent.length);
  for (const m of fake.sent) t.ok(m.text.length <= 4096);
  t.equal(fake.sent.map((m) => m.text).join('\n'), text);
});

t.test('429 waits retry_after and then succeeds', async (t) => {
  const { api, fake } = await setup(t);
  fake.failNext('sendMessage', { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } });
  const started = Date.now();
  await api.sendMessage(1, 'hi');
  t.equal(fake.callsOf('sendMessage').length, 2, 'retried once');
  t.ok(Date.now() - started >= 900, 'waited about retry_after seconds');
  t.equal(fake.sent.length, 1);
});

t.test('5xx is retried with backoff until it succeeds', async (t) => {
  const { api, fake, metrics } = await setup(t);
  fake.failNext('sendMessage', { status: 502 }, { status: 500 });
  await api.sendMessage(1, 'hi');
  t.equal(fake.callsOf('sendMessage').length, 3);
  const text = await metrics.render();
  t.match(text, /skillgate_telegram_api_calls_total\{method="sendMessage",status="502"\} 1/);
});

t.test('a dropped connection is retried', async (t) => {
  const { api, fake } = await setup(t);
  fake.failNext('getMe', { status: 0, drop: true });
  const me = await api.getMe();
  t.ok(me.id);
  t.equal(fake.callsOf('getMe').length, 2);
});

t.test('5xx retries are bounded', async (t) => {
  const { api, fake } = await setup(t, { maxAttempts: 3 });
  fake.failNext('getMe', { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
  await t.rejects(api.getMe(), TelegramApiError);
  t.equal(fake.callsOf('getMe').length, 3);
});

t.test('4xx other than 429 is not retried and becomes a typed error', async (t) => {
  const { api, fake } = await setup(t);
  fake.failNext('sendMessage', { status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
  const err = await api.sendMessage(1, 'hi').catch((e: unknown) => e);
  t.ok(err instanceof TelegramApiError);
  t.equal((err as TelegramApiError).errorCode, 403);
  t.equal((err as TelegramApiError).method, 'sendMessage');
  t.equal((err as TelegramApiError).code, 'SG_TELEGRAM_API');
  t.equal(fake.callsOf('sendMessage').length, 1);
});

t.test('the bot token never appears in errors or logs, even when Telegram echoes it', async (t) => {
  const { api, fake, log } = await setup(t, { maxAttempts: 2 });
  fake.failNext('getMe', { status: 500, body: { ok: false, error_code: 500, description: `upstream failed for /bot${TEST_TOKEN}/getMe` } }, { status: 400, body: { ok: false, error_code: 400, description: `bad ${TEST_TOKEN}` } });
  const err = (await api.getMe().catch((e: unknown) => e)) as Error;
  t.notMatch(err.message, TEST_TOKEN.split(':')[1]!);
  t.match(err.message, '[REDACTED]');
  t.notMatch(log.text(), TEST_TOKEN.split(':')[1]!);
});

t.test('a network failure becomes TelegramNetworkError without the URL', async (t) => {
  const log = captureLogger([TEST_TOKEN]);
  const api = new TelegramApi({ token: TEST_TOKEN, apiBase: 'http://127.0.0.1:9', logger: log.logger, redact: createRedactor([TEST_TOKEN]), maxAttempts: 2 });
  t.teardown(() => api.close());
  const err = (await api.getMe().catch((e: unknown) => e)) as Error;
  t.ok(err instanceof TelegramNetworkError);
  t.equal((err as TelegramNetworkError).code, 'SG_TELEGRAM_NETWORK');
  t.notMatch(err.message, TEST_TOKEN);
  t.notMatch(log.text(), TEST_TOKEN.split(':')[1]!);
});

t.test('setWebhook with a certificate uploads it as multipart', async (t) => {
  const { api, fake } = await setup(t);
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  await api.setWebhook({ url: 'https://127.0.0.1:8443/hook', secret_token: 's3cret', allowed_updates: ['message'], certificate: pem });
  t.equal(fake.webhook?.certificate, pem);
  t.same(fake.webhook?.allowed_updates, ['message']);
  t.equal(fake.webhook?.secret_token, 's3cret');
  const info = await api.getWebhookInfo();
  t.equal(info.url, 'https://127.0.0.1:8443/hook');
  t.equal(info.has_custom_certificate, true);
});

t.test('a Bot API that never answers times out (undici timeouts) as TelegramNetworkError, and a caller abort ends a long poll', async (t) => {
  const http = await import('node:http');
  const held = new Set<import('node:http').ServerResponse>();
  const server = http.createServer((_req, res) => void held.add(res)); // reads the request, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  const log = captureLogger([TEST_TOKEN]);
  const api = new TelegramApi({ token: TEST_TOKEN, apiBase: `http://127.0.0.1:${port}/`, logger: log.logger, redact: createRedactor([TEST_TOKEN]), timeoutMs: 200, maxAttempts: 1 });
  t.teardown(async () => {
    for (const res of held) res.destroy();
    await api.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const err = await api.getMe().catch((e: unknown) => e);
  t.type(err, TelegramNetworkError);
  t.match((err as Error).message, /timed out/);
  t.notMatch((err as Error).message, TEST_TOKEN);
  const controller = new AbortController();
  const poll = api.getUpdates({ timeout: 30 }, { signal: controller.signal }).catch((e: unknown) => e);
  controller.abort();
  t.type(await poll, TelegramNetworkError, 'the caller abort ends the call at once, not after the poll timeout');
});
