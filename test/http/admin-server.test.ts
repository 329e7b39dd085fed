import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { request } from 'undici';
import { buildAdminServer, type Readiness } from '../../src/http/admin-server.js';
import { Metrics } from '../../src/observability/metrics.js';
import { captureLogger } from '../helpers/logger.js';

async function setup(t: TestContext, readiness: () => Promise<Readiness>) {
  const metrics = new Metrics();
  const log = captureLogger();
  const app = await buildAdminServer({ logger: log.logger, metrics, readiness });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const get = async (path: string, method: 'GET' | 'POST' = 'GET') => {
    const res = await request(base + path, { method });
    const text = await res.body.text();
    return { status: res.statusCode, type: String(res.headers['content-type']), text };
  };
  return { metrics, get, log };
}

const ready = async (): Promise<Readiness> => ({ ready: true, reasons: [] });

t.test('admin /healthz answers 200 {"status":"ok"}', async (t) => {
  const { get } = await setup(t, ready);
  const res = await get('/healthz');
  t.equal(res.status, 200);
  t.same(JSON.parse(res.text), { status: 'ok' });
});

t.test('admin /readyz answers 200 when ready', async (t) => {
  const { get } = await setup(t, async () => ({ ready: true, reasons: [], detail: { skills: 3 } }));
  const res = await get('/readyz');
  t.equal(res.status, 200);
  t.same(JSON.parse(res.text), { status: 'ready', reasons: [], detail: { skills: 3 } });
});

t.test('admin /readyz flips to 503 with the reasons when skills fail to load, and back', async (t) => {
  let skillsLoaded = false;
  const { get } = await setup(t, async () =>
    skillsLoaded ? { ready: true, reasons: [] } : { ready: false, reasons: ['skills not loaded', 'webhook not registered yet'] },
  );
  const down = await get('/readyz');
  t.equal(down.status, 503);
  t.same(JSON.parse(down.text).reasons, ['skills not loaded', 'webhook not registered yet']);
  skillsLoaded = true;
  t.equal((await get('/readyz')).status, 200);
});

t.test('admin /readyz answers 503 when the readiness check itself throws', async (t) => {
  const { get } = await setup(t, async () => {
    throw new Error('store exploded');
  });
  const res = await get('/readyz');
  t.equal(res.status, 503);
  t.same(JSON.parse(res.text).reasons, ['readiness check failed']);
  t.notMatch(res.text, /exploded|at .*\.ts/, 'no error detail or stack leaks');
});

t.test('admin /metrics serves Prometheus text containing the counters after traffic', async (t) => {
  const { get, metrics } = await setup(t, ready);
  metrics.updates.inc({ outcome: 'accepted' }, 3);
  metrics.skillRuns.inc({ skill: 'check_workspace_files', outcome: 'ok' });
  metrics.telegramCalls.inc({ method: 'sendMessage', status: '200' });
  metrics.alerts.inc({ outcome: 'sent' });
  metrics.inboxPending.set(2);
  const res = await get('/metrics');
  t.equal(res.status, 200);
  t.match(res.type, /^text\/plain/);
  t.match(res.text, /skillgate_updates_total\{outcome="accepted"\} 3/);
  t.match(res.text, /skillgate_skill_runs_total\{skill="check_workspace_files",outcome="ok"\} 1/);
  t.match(res.text, /skillgate_telegram_api_calls_total\{method="sendMessage",status="200"\} 1/);
  t.match(res.text, /skillgate_alerts_total\{outcome="sent"\} 1/);
  t.match(res.text, /skillgate_inbox_pending 2/);
  t.match(res.text, /# TYPE skillgate_update_processing_seconds histogram/);
});

t.test('admin listener answers other paths with a JSON 404', async (t) => {
  const { get } = await setup(t, ready);
  const res = await get('/telegram/webhook', 'POST');
  t.equal(res.status, 404);
  t.same(JSON.parse(res.text), { error: 'Not Found' });
});
