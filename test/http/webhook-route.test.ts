import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { Agent, request } from 'undici';
import { buildMainServer } from '../../src/http/server.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import type { AcceptResult, WebhookRouteOptions } from '../../src/http/webhook-route.js';
import { captureLogger, TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';
import { agentFrom } from './connection-helpers.js';

const PATH = '/telegram/webhook';
const tls = await generateSelfSigned({ host: '127.0.0.1' });

class MemoryIntake {
  readonly stored = new Map<number, string | null>();
  mode: 'normal' | 'full' | 'broken' = 'normal';
  async accept(updateId: number, _chatId: number | null, raw: string | null): Promise<AcceptResult> {
    if (this.mode === 'broken') throw new Error('disk on fire');
    if (this.stored.has(updateId)) return 'duplicate';
    if (this.mode === 'full') return 'full';
    this.stored.set(updateId, raw);
    return 'accepted';
  }
}

async function setup(t: TestContext, options: { trustProxy?: string[]; decidedAtIntake?: WebhookRouteOptions['decidedAtIntake'] } = {}) {
  const intake = new MemoryIntake();
  const log = captureLogger([TEST_TOKEN, TEST_SECRET]);
  let closing = false;
  const app = await buildMainServer({
    logger: log.logger,
    tls,
    trustProxy: options.trustProxy,
    webhook: {
      path: PATH,
      secret: TEST_SECRET,
      intake,
      chatIdOf: () => 7,
      isClosing: () => closing,
      ...(options.decidedAtIntake ? { decidedAtIntake: options.decidedAtIntake } : {}),
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ connect: { ca: tls.cert } });
  t.teardown(async () => {
    await agent.close();
    await app.close();
  });
  const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await request(`https://127.0.0.1:${port}${PATH}`, { method: 'POST', body, headers, dispatcher: agent });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
  };
  const good = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET };
  return { intake, log, post, good, get accepted() { return [...intake.stored.keys()]; }, port, agent, setClosing: (v: boolean) => (closing = v) };
}

const update = (id: number, extra: object = {}) => JSON.stringify({ update_id: id, message: { message_id: 1, chat: { id: 7 }, from: { id: 7 }, text: 'hi' }, ...extra });

t.test('webhook accepts a valid update over HTTPS with 200 after storing it', async (t) => {
  const s = await setup(t);
  const res = await s.post(update(1), s.good);
  t.equal(res.status, 200);
  t.equal(s.intake.stored.get(1), update(1), 'stored byte for byte');
  t.same(s.accepted, [1]);
});

t.test('an update decided at intake is stored without its payload and reported finished once, after it is stored', async (t) => {
  const finished: number[] = [];
  const decidedAtIntake = { matches: (u: unknown) => (u as { edited_message?: unknown }).edited_message !== undefined, finished: (id: number) => void finished.push(id) };
  const s = await setup(t, { decidedAtIntake });
  const edit = JSON.stringify({ update_id: 2, edited_message: { message_id: 1, chat: { id: 7 }, text: 'hi' } });
  t.equal((await s.post(edit, s.good)).status, 200);
  t.equal((await s.post(edit, s.good)).status, 200, 'a re-delivery is acknowledged');
  t.equal((await s.post(update(3), s.good)).status, 200);
  t.same([...s.intake.stored], [[2, null], [3, update(3)]], 'the edit is stored with no payload, the message byte for byte');
  t.same(finished, [2], 'finished once: not for the duplicate, not for the message');
  s.intake.mode = 'full';
  t.equal((await s.post(JSON.stringify({ update_id: 4, edited_message: {} }), s.good)).status, 503, 'a refusal is not reported finished');
  t.same(finished, [2]);
});

t.test('a failure after the update was stored is a JSON 500, not a hung request; the re-delivery is a duplicate', async (t) => {
  const decidedAtIntake = {
    matches: (u: unknown) => (u as { edited_message?: unknown }).edited_message !== undefined,
    finished: () => {
      throw new Error('audit sink exploded');
    },
  };
  const s = await setup(t, { decidedAtIntake });
  const edit = JSON.stringify({ update_id: 5, edited_message: { message_id: 1, chat: { id: 7 }, text: 'hi' } });
  const failed = await s.post(edit, s.good);
  t.equal(failed.status, 500);
  t.match(failed.json, { error: String });
  t.notMatch(failed.text, /at .*\.js|exploded/, 'no stack trace, no internal message');
  t.same([...s.intake.stored.keys()], [5], 'stored before the failure');
  t.equal((await s.post(edit, s.good)).status, 200, "Telegram's retry is acknowledged as a duplicate");
});

t.test('webhook rejects a missing secret with 401 and a JSON error', async (t) => {
  const s = await setup(t);
  const res = await s.post(update(1), { 'content-type': 'application/json' });
  t.equal(res.status, 401);
  t.match(res.json, { error: /Unauthorized/ });
  t.equal(s.intake.stored.size, 0);
});

t.test('webhook rejects a wrong secret with 401 before reading the body', async (t) => {
  const s = await setup(t);
  const res = await s.post('{not json at all', { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' });
  t.equal(res.status, 401, 'not 400: the body was never parsed');
  t.notMatch(s.log.text(), TEST_SECRET);
});

t.test('webhook rejects a secret that differs only in length with 401', async (t) => {
  const s = await setup(t);
  const res = await s.post(update(1), { ...s.good, 'x-telegram-bot-api-secret-token': `${TEST_SECRET}x` });
  t.equal(res.status, 401);
});

t.test('webhook answers 415 to a body that is not application/json', async (t) => {
  const s = await setup(t);
  const res = await s.post('update_id=1', { ...s.good, 'content-type': 'application/x-www-form-urlencoded' });
  t.equal(res.status, 415);
  t.match(res.json, { error: /Unsupported Media Type/ });
});

t.test('webhook answers 413 to a body over 1 MiB', async (t) => {
  const s = await setup(t);
  const res = await s.post(JSON.stringify({ update_id: 1, pad: 'x'.repeat(1024 * 1024 + 10) }), s.good);
  t.equal(res.status, 413);
  t.match(res.json, { error: /Payload Too Large/ });
  t.equal(s.intake.stored.size, 0);
});

t.test('webhook answers 400 to a body that is not JSON', async (t) => {
  const s = await setup(t);
  const res = await s.post('{"update_id": 1,', s.good);
  t.equal(res.status, 400);
  t.match(res.json, { error: /not valid JSON/ });
});

t.test('webhook answers 400 when update_id is missing or not an integer', async (t) => {
  const s = await setup(t);
  for (const body of ['{}', '{"update_id":"1"}', '{"update_id":1.5}', '[1,2]', '"x"', 'null', '{"update_id":1e400}', '{"update_id":true}']) {
    const res = await s.post(body, s.good);
    t.equal(res.status, 400, body);
    t.match(res.json, { error: /update_id/ });
  }
  t.equal(s.intake.stored.size, 0);
});

t.test('webhook answers 400 to an empty body', async (t) => {
  const s = await setup(t);
  const res = await s.post('', s.good);
  t.equal(res.status, 400);
});

t.test('unknown update types and unknown fields are accepted with 200', async (t) => {
  const s = await setup(t);
  const res = await s.post(JSON.stringify({ update_id: 5, brand_new_update_kind: { foo: 1 }, extra: true }), s.good);
  t.equal(res.status, 200);
  t.ok(s.intake.stored.has(5));
});

t.test('a duplicate update_id gets 200 and is not handed on again', async (t) => {
  const s = await setup(t);
  t.equal((await s.post(update(9), s.good)).status, 200);
  t.equal((await s.post(update(9), s.good)).status, 200);
  t.same(s.accepted, [9]);
});

t.test('a full inbox answers 503 with Retry-After', async (t) => {
  const s = await setup(t);
  s.intake.mode = 'full';
  const res = await s.post(update(3), s.good);
  t.equal(res.status, 503);
  t.ok(Number(res.headers['retry-after']) > 0);
  t.match(res.json, { error: /inbox full/ });
});

t.test('a store failure answers 503 so Telegram retries, and logs the error', async (t) => {
  const s = await setup(t);
  s.intake.mode = 'broken';
  const res = await s.post(update(3), s.good);
  t.equal(res.status, 503);
  t.match(s.log.text(), /could not store the update/);
});

t.test('while shutting down the webhook answers 503 with Retry-After', async (t) => {
  const s = await setup(t);
  s.setClosing(true);
  const res = await s.post(update(4), s.good);
  t.equal(res.status, 503);
  t.ok(res.headers['retry-after']);
  t.equal(s.intake.stored.size, 0);
});

t.test('past 20 wrong secrets in a minute an address gets 429; the right secret still passes', async (t) => {
  const s = await setup(t);
  const bad = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'guess' };
  const statuses: number[] = [];
  for (let i = 0; i < 22; i++) statuses.push((await s.post(update(100 + i), bad)).status);
  t.same(statuses.slice(0, 20), Array(20).fill(401));
  t.same(statuses.slice(20), [429, 429]);
  t.match(s.log.text(), /answering 429/);
  const ok = await s.post(update(200), s.good);
  t.equal(ok.status, 200, 'requests with the right secret are never rate-limited');
});

/** 22 wrong guesses from `localAddress`, each with the X-Forwarded-For `forwarded(i)` gives. */
async function guessFrom(t: TestContext, port: number, localAddress: string, forwarded: (i: number) => string | undefined) {
  const agent = agentFrom(localAddress, tls.cert);
  t.teardown(() => agent.destroy());
  const statuses: number[] = [];
  for (let i = 0; i < 22; i++) {
    const xff = forwarded(i);
    const headers = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'guess', ...(xff ? { 'x-forwarded-for': xff } : {}) };
    const res = await request(`https://127.0.0.1:${port}${PATH}`, { method: 'POST', body: update(i), headers, dispatcher: agent });
    await res.body.text();
    statuses.push(res.statusCode);
  }
  return statuses;
}
const rotating = (i: number) => `198.51.100.${i + 1}`;
const LIMITED = [...Array(20).fill(401), 429, 429];

t.test('TRUST_PROXY=127.0.0.1: a local process rotating X-Forwarded-For is still limited after 20 failures', async (t) => {
  const s = await setup(t, { trustProxy: ['127.0.0.1'] });
  t.same(await guessFrom(t, s.port, '127.0.0.1', rotating), LIMITED, 'the socket peer is counted as well as the forwarded client');
  t.match(s.log.text(), /from 198\.51\.100\.21 \(through 127\.0\.0\.1\); answering 429/, 'the log names the forwarded client and the peer');
  t.equal((await s.post(update(300), s.good)).status, 200, 'the right secret still passes through the same peer');
});

t.test('through a trusted proxy, entries a client prepends do not hide its own address', async (t) => {
  const s = await setup(t, { trustProxy: ['127.0.0.1'] });
  // What a proxy sends: whatever the client wrote, then the address it saw (203.0.113.7).
  t.same(await guessFrom(t, s.port, '127.0.0.1', (i) => `${rotating(i)}, 203.0.113.7`), LIMITED);
  t.match(s.log.text(), /from 203\.0\.113\.7 \(through 127\.0\.0\.1\); answering 429/, 'the client is the right-most untrusted entry');
  t.notMatch(s.log.text(), /from 198\.51\.100/, 'never a prepended one');
});

t.test('an untrusted peer\'s X-Forwarded-For is ignored: the socket address is counted', async (t) => {
  const s = await setup(t, { trustProxy: ['127.0.0.9'] });
  t.same(await guessFrom(t, s.port, '127.0.0.2', rotating), LIMITED);
  t.match(s.log.text(), /from 127\.0\.0\.2; answering 429/);
  t.notMatch(s.log.text(), /198\.51\.100/, 'the forged header never became the client address');
  t.same((await guessFrom(t, s.port, '127.0.0.3', () => undefined)).slice(0, 20), Array(20).fill(401), 'another address has its own count');
});

t.test('GET /healthz answers ok; other paths are 404 JSON', async (t) => {
  const s = await setup(t);
  const health = await request(`https://127.0.0.1:${s.port}/healthz`, { dispatcher: s.agent });
  t.equal(health.statusCode, 200);
  t.same(await health.body.json(), { status: 'ok' });
  const missing = await request(`https://127.0.0.1:${s.port}/nope`, { dispatcher: s.agent });
  t.equal(missing.statusCode, 404);
  t.same(await missing.body.json(), { error: 'Not Found' });
  t.ok(health.headers['strict-transport-security'] || health.headers['x-content-type-options'], 'helmet headers present');
  const securityOf = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('x-') || name.includes('-policy') || name === 'strict-transport-security' || name === 'origin-agent-cluster'));
  t.same(securityOf(missing.headers), securityOf(health.headers), 'a 404 carries helmet\'s full set, like /healthz');
  t.ok(securityOf(missing.headers)['content-security-policy'] && securityOf(missing.headers)['cross-origin-resource-policy']);
});

t.test('webhook answers carry helmet\'s headers for an API answer, the 200 no body', async (t) => {
  const s = await setup(t);
  const security = (headers: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(headers).filter(([name]) => !['content-length', 'content-type', 'date', 'connection', 'keep-alive'].includes(name)));
  const health = await request(`https://127.0.0.1:${s.port}/healthz`, { dispatcher: s.agent });
  await health.body.dump();
  const page = security(health.headers);
  t.ok(page['content-security-policy'] && page['cross-origin-opener-policy'], 'helmet\'s full set on /healthz');
  // What a browser would need to render nothing and frame nothing, with helmet's own values for
  // the rest; the document-only headers (CORP, COOP, DNS prefetch, ...) are left out (issue 16).
  const expected = {
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
    'strict-transport-security': page['strict-transport-security'],
    'x-content-type-options': 'nosniff',
    'x-frame-options': page['x-frame-options'],
  };
  const accepted = await s.post(update(1), s.good);
  t.equal(accepted.status, 200);
  t.same(security(accepted.headers), expected, 'on a 200');
  t.equal(accepted.headers['content-length'], '0', 'a 200 carries no body: Telegram reads nothing from it but a method call');
  t.equal(accepted.text, '');
  const rejected = await s.post(update(2), { 'content-type': 'application/json' });
  t.equal(rejected.status, 401);
  t.same(security(rejected.headers), expected, 'on a 401');
  const bad = await s.post('{"no_update_id":1}', s.good);
  t.equal(bad.status, 400);
  t.same(security(bad.headers), expected, 'on a 400');
});

t.test('GET on the webhook path is not a way in', async (t) => {
  const s = await setup(t);
  const res = await request(`https://127.0.0.1:${s.port}${PATH}`, { dispatcher: s.agent });
  t.equal(res.statusCode, 404);
  await res.body.dump();
});
