import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ALERT_PREFIX, DiscordAlerter, sendDiscordAlertOnce } from '../../src/alerts/discord.js';
import { Metrics } from '../../src/observability/metrics.js';
import { FakeDiscord } from '../../fakes/discord.js';
import { captureLogger } from '../helpers/logger.js';

const noRedact = (s: string) => s;
const fast = { backoffBaseMs: 20, maxRetryAfterMs: 2_000 };

async function fake(t: TestContext): Promise<FakeDiscord> {
  const discord = await FakeDiscord.start();
  t.teardown(() => discord.close());
  return discord;
}

function alerter(t: TestContext, discord: FakeDiscord, extra: Partial<ConstructorParameters<typeof DiscordAlerter>[0]> = {}) {
  const log = captureLogger();
  const metrics = new Metrics();
  const a = new DiscordAlerter({ url: discord.url, logger: log.logger, redact: noRedact, metrics, ...fast, ...extra });
  t.teardown(() => a.close(100));
  return { alerter: a, log, metrics };
}

async function counter(metrics: Metrics, outcome: string): Promise<number> {
  const value = (await metrics.alerts.get()).values.find((v) => v.labels.outcome === outcome);
  return value?.value ?? 0;
}

t.test('an alert is posted with exactly the documented payload and 204 counts as success', async (t) => {
  const discord = await fake(t);
  const result = await sendDiscordAlertOnce(discord.url, 'disk almost full', fast);
  t.same(result, { ok: true, attempts: 1 });
  t.equal(discord.received.length, 1);
  t.equal(
    discord.received[0]!.raw,
    '{"username":"AI-Agent-Monitor","content":"🚨 **SYSTEM ALERT:** disk almost full","allowed_mentions":{"parse":[]}}',
  );
  t.match(discord.received[0]!.headers['content-type'], /^application\/json/);
});

t.test('a 429 is honoured: the retry waits the retry_after from the body', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 429, body: { message: 'You are being rate limited.', retry_after: 0.3, global: false } });
  const result = await sendDiscordAlertOnce(discord.url, 'slow down', fast);
  t.same(result, { ok: true, attempts: 2 });
  const gap = discord.received[1]!.at - discord.received[0]!.at;
  t.ok(gap >= 250, `second attempt waited retry_after (${gap} ms)`);
});

t.test('a 429 without a JSON body is honoured through the Retry-After header', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 429, body: 'slow down', headers: { 'retry-after': '1' } });
  const result = await sendDiscordAlertOnce(discord.url, 'header only', fast);
  t.same(result, { ok: true, attempts: 2 });
  t.ok(discord.received[1]!.at - discord.received[0]!.at >= 900, 'waited the Retry-After second');
});

t.test('a 500 is backed off and retried until Discord answers 204', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 500, body: { message: 'oops' } }, { status: 502 });
  const result = await sendDiscordAlertOnce(discord.url, 'flaky', fast);
  t.same(result, { ok: true, attempts: 3 });
});

t.test('persistent 5xx gives up after the bounded number of attempts with the reason', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 503 }, { status: 503 }, { status: 503 });
  const result = await sendDiscordAlertOnce(discord.url, 'down', { ...fast, maxAttempts: 3 });
  t.equal(result.ok, false);
  t.match(!result.ok && result.reason, /server error 503.*gave up after 3 attempts/);
  t.equal(discord.received.length, 3);
});

t.test('a 404 (webhook deleted) is not retried', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 404, body: { message: 'Unknown Webhook', code: 10015 } });
  const result = await sendDiscordAlertOnce(discord.url, 'gone', fast);
  t.equal(result.ok, false);
  t.match(!result.ok && result.reason, /Discord answered 404.*Unknown Webhook/);
  t.equal(discord.received.length, 1);
});

t.test('a request Discord never answers times out and is retried', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 0, hang: true });
  const result = await sendDiscordAlertOnce(discord.url, 'anyone there?', { ...fast, timeoutMs: 200 });
  t.same(result, { ok: true, attempts: 2 });
  discord.answerNext({ status: 0, hang: true });
  const failed = await sendDiscordAlertOnce(discord.url, 'still there?', { ...fast, timeoutMs: 200, maxAttempts: 1 });
  t.match(!failed.ok && failed.reason, /did not answer within 200 ms/);
});

t.test('a 5000-character message is capped at 2000 characters, prefix included', async (t) => {
  const discord = await fake(t);
  const result = await sendDiscordAlertOnce(discord.url, 'x'.repeat(5000), fast);
  t.equal(result.ok, true, 'Discord accepted it (the fake refuses > 2000)');
  const content = discord.received[0]!.payload.content!;
  t.equal(content.length, 2000);
  t.ok(content.startsWith(ALERT_PREFIX));
  t.ok(content.endsWith('…'), 'the cut is visible');
});

t.test('the cap never splits an emoji in half', async (t) => {
  const discord = await fake(t);
  await sendDiscordAlertOnce(discord.url, 'a' + '😀'.repeat(3000), fast);
  const content = discord.received[0]!.payload.content!;
  t.ok(content.length <= 2000);
  t.doesNotThrow(() => encodeURIComponent(content), 'no lone surrogate');
});

t.test('@everyone in an alert does not ping: allowed_mentions parses nothing', async (t) => {
  const discord = await fake(t);
  await sendDiscordAlertOnce(discord.url, '@everyone @here the bot is down', fast);
  const payload = discord.received[0]!.payload;
  t.same(payload.allowed_mentions, { parse: [] });
  t.match(payload.content, /@everyone/);
});

t.test('identical alerts within the window are coalesced into one "(xN)" summary', async (t) => {
  const discord = await fake(t);
  const { alerter: a, metrics } = alerter(t, discord, { coalesceWindowMs: 300 });
  for (let i = 0; i < 6; i++) a.alert('skill crashed: ping');
  a.alert('another problem');
  await discord.waitFor(() => discord.delivered.length >= 3, 5_000, 'three alerts');
  await a.flush(1_000);
  const delivered = discord.delivered;
  t.equal(delivered.filter((c) => c.endsWith('skill crashed: ping')).length, 1, 'the first goes out at once');
  t.ok(delivered.includes(`${ALERT_PREFIX}skill crashed: ping (x5)`), 'the other five are summarised');
  t.ok(delivered.includes(`${ALERT_PREFIX}another problem`), 'a different alert is not held back');
  t.equal(await counter(metrics, 'coalesced'), 5);
  t.equal(await counter(metrics, 'sent'), 3);
});

t.test('alerts queued behind a rate limit merge with their twins', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 429, body: { retry_after: 0.2 } });
  const { alerter: a } = alerter(t, discord);
  a.alert('first');
  a.alert('telegram failing', { key: 'tg' });
  a.alert('telegram failing', { key: 'tg' });
  a.alert('telegram failing', { key: 'tg' });
  await a.flush(5_000);
  t.same(discord.delivered, [`${ALERT_PREFIX}first`, `${ALERT_PREFIX}telegram failing (x3)`]);
});

t.test('alert() returns at once, never throws, and flush gives up at its deadline', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 0, hang: true });
  const { alerter: a, log } = alerter(t, discord, { timeoutMs: 10_000 });
  t.doesNotThrow(() => a.alert('Discord is hanging'));
  await discord.waitFor(() => discord.received.length === 1, 5_000, 'the request');
  const outcome = await Promise.race([a.flush(100).then(() => 'flushed'), sleep(5_000, undefined, { ref: false }).then(() => 'blocked')]);
  t.equal(outcome, 'flushed', 'flush returned long before the 10 s Discord timeout');
  t.match(log.text(), /still unsent at the flush deadline/);
  const closed = await Promise.race([a.close(50).then(() => 'closed'), sleep(5_000, undefined, { ref: false }).then(() => 'blocked')]);
  t.equal(closed, 'closed', 'close cancels the hanging request');
});

t.test('a redactor that throws does not escape alert()', async (t) => {
  const discord = await fake(t);
  const { logger } = captureLogger();
  const a = new DiscordAlerter({
    url: discord.url,
    logger,
    redact: () => {
      throw new Error('broken redactor');
    },
  });
  t.doesNotThrow(() => a.alert('x'));
  await a.close(100);
});

t.test('a full queue drops new alerts and counts them', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 0, hang: true });
  const { alerter: a, metrics } = alerter(t, discord, { maxQueue: 2, timeoutMs: 10_000 });
  a.alert('a');
  await discord.waitFor(() => discord.received.length === 1, 5_000, 'the first request');
  a.alert('b');
  a.alert('c');
  a.alert('d');
  t.equal(await counter(metrics, 'dropped'), 1);
});

t.test('the webhook token never reaches the log or the alert text, even with a naive redactor', async (t) => {
  const discord = await fake(t);
  discord.answerNext({ status: 400, body: { message: `bad request for ${discord.url}` } });
  const { alerter: a, log } = alerter(t, discord);
  a.alert(`misconfigured: ${discord.url}`);
  a.alert(`token alone: ${discord.token}`);
  await a.flush(5_000);
  t.match(log.text(), /Discord alert not delivered/);
  t.notMatch(log.text(), discord.token);
  for (const r of discord.received) t.notMatch(r.raw, discord.token);
  t.match(discord.delivered[0], /token alone: \[REDACTED\]/);
});

t.test('a webhook URL that is not http(s) is refused at construction', async (t) => {
  const { logger } = captureLogger();
  t.throws(() => new DiscordAlerter({ url: 'ftp://x/y', logger, redact: noRedact }), /must be an https:\/\/ URL/);
  t.throws(() => new DiscordAlerter({ url: 'not a url', logger, redact: noRedact }), /not a URL/);
  t.match(await sendDiscordAlertOnce('nope', 'x'), { ok: false, attempts: 0 });
});
