import t from 'tap';
import { REPLIES } from '../../src/router/llm-prompt.js';
import { counterValue, linesWith, setupRouter, standInContext, TEST_API_KEY } from './llm-fixtures.js';

t.test('a 429 is retried by the SDK and the next success is the answer', async (t) => {
  const { fake, router, metrics, alerter } = await setupRouter(t);
  fake.script({ status: 429, message: 'Rate limit reached' }, { answer: 'after the wait' });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, 'after the wait');
  t.equal(fake.requests.length, 2);
  t.equal(await counterValue(metrics, 'ok'), 1);
  t.same(alerter.alerts, []);
});

t.test('a 500 storm ends, after the SDK retries, in an apology and an alert; never a throw', async (t) => {
  const { fake, router, metrics, alerter, log } = await setupRouter(t, { config: { maxRetries: 2 } });
  fake.always({ status: 500, message: 'The server had an error' });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.unavailable);
  t.equal(fake.requests.length, 3, 'one try and two retries');
  t.equal(await counterValue(metrics, 'server_error'), 1);
  t.equal(alerter.alerts.length, 1);
  t.match(alerter.alerts[0]!.text, /LLM request failed \(server_error 500\)/);
  t.equal(linesWith(log.lines, 'LLM request failed').length, 1);
});

t.test('three failed turns in a row raise one "failing persistently" alert; a success clears the count', async (t) => {
  const { fake, router, alerter } = await setupRouter(t, { config: { maxRetries: 0 } });
  fake.script({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { answer: 'back' }, { status: 503 }, { status: 503 });
  for (let i = 0; i < 5; i++) await router.route(standInContext({ text: `try ${i}` }).ctx);
  for (let i = 0; i < 2; i++) await router.route(standInContext({ text: `again ${i}` }).ctx);
  const persistent = alerter.alerts.filter((a) => a.key === 'llm:persistent');
  t.equal(persistent.length, 1);
  t.match(persistent[0]!.text, /3 requests in a row failed/);
});

t.test('a refused key (401) gives one clear error line and one alert, and never leaks the key', async (t) => {
  // The fake echoes the presented key in its error body, as careless servers do.
  const { router, alerter, log, metrics } = await setupRouter(t, { fake: { apiKey: 'sk-the-right-key-for-this-server' } });
  const first = await router.route(standInContext({ text: 'hi' }).ctx);
  const second = await router.route(standInContext({ text: 'hi again' }).ctx);
  t.equal(first.text, REPLIES.auth);
  t.equal(second.text, REPLIES.auth);
  const errors = log.lines.filter((l) => JSON.parse(l).level >= 50);
  t.equal(errors.length, 1, 'one error line, at first use');
  t.match(errors[0]!, /OPENAI_API_KEY was rejected by the LLM server at http:\/\/127\.0\.0\.1:\d+\/v1 \(HTTP 401\)/);
  t.equal(alerter.alerts.filter((a) => a.key === 'llm:auth').length, 1);
  t.equal(await counterValue(metrics, 'auth'), 2);
  const everything = [log.text(), JSON.stringify(alerter.alerts), first.text, second.text].join('\n');
  t.notOk(everything.includes(TEST_API_KEY), 'the key is in no log line, alert or reply');
  t.ok(log.text().includes('[REDACTED]'), 'the echoed key was redacted, not merely absent');
});

t.test('a 403 is treated as a refused key too', async (t) => {
  const { fake, router, alerter } = await setupRouter(t);
  fake.script({ status: 403, message: 'Project does not have access' });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.auth);
  t.match(alerter.alerts[0]!.text, /HTTP 403/);
});

t.test('a request that hangs past the per-request timeout ends in a timeout apology', async (t) => {
  const { fake, router, metrics } = await setupRouter(t, { config: { timeoutMs: 200, maxRetries: 0 } });
  fake.script({ hang: true });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.timeout);
  t.equal(await counterValue(metrics, 'timeout'), 1);
});

t.test('the total wall-time cap ends a turn even while the SDK would keep retrying', async (t) => {
  const { fake, router, alerter } = await setupRouter(t, { config: { timeoutMs: 60_000, maxRetries: 5, totalTimeoutMs: 300 } });
  fake.always({ hang: true });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.timeout);
  t.match(alerter.alerts[0]!.text, /\(timeout\)/);
});

t.test('shutdown (ctx.signal aborted) ends the turn with a short note and no alert', async (t) => {
  const { fake, router, alerter } = await setupRouter(t);
  fake.always({ hang: true });
  const controller = new AbortController();
  const pending = router.route(standInContext({ text: 'hi', signal: controller.signal }).ctx);
  await waitUntil(() => fake.requests.length === 1);
  controller.abort();
  const reply = await pending;
  t.equal(reply.text, REPLIES.aborted);
  t.same(alerter.alerts, []);
});

t.test('a dropped connection is retried, then apologised for', async (t) => {
  const { fake, router, metrics } = await setupRouter(t, { config: { maxRetries: 1 } });
  fake.always({ drop: true });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.unavailable);
  t.equal(fake.requests.length, 2);
  t.equal(await counterValue(metrics, 'network'), 1);
});

t.test('an unknown model (404) is a rejected request with a /reset hint', async (t) => {
  const { fake, router } = await setupRouter(t);
  fake.script({ status: 404, message: 'The model `nope` does not exist' });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, REPLIES.rejected);
});

t.test('a failed turn is not remembered, so the next turn starts clean', async (t) => {
  const { fake, router } = await setupRouter(t, { config: { maxRetries: 0 } });
  fake.script({ status: 500 }, { answer: 'ok' });
  await router.route(standInContext({ text: 'first' }).ctx);
  await router.route(standInContext({ text: 'second' }).ctx);
  t.same(fake.requests[1]!.body.messages.slice(1), [{ role: 'user', content: 'second' }]);
});

t.test('without an API key (Ollama style) a placeholder key is sent', async (t) => {
  const { fake, router } = await setupRouter(t, { config: { apiKey: undefined } });
  fake.script({ answer: 'local model here' });
  const reply = await router.route(standInContext({ text: 'hi' }).ctx);
  t.equal(reply.text, 'local model here');
  t.equal(fake.requests[0]!.authorization, 'Bearer not-needed');
});

/** Polls `condition` for up to 5 s; a bounded loop, not a timing assertion. */
async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met within 5 s');
}
