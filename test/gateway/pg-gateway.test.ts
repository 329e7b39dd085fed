import t from 'tap';
import { request } from 'undici';
import { freshDatabase } from '../helpers/postgres.js';
import { freePort } from '../helpers/system.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';
import { DECORATOR } from '../skills/helpers.js';

/**
 * A whole gateway with DATABASE_URL, in this process over real HTTPS with a real PostgreSQL: the
 * same answers as with SQLite, and what says it is one replica among others (start log,
 * /readyz, the `replica` metric label). The cross-replica behaviour is in
 * test/inbox/pg-replicas.test.ts and the two-process test.
 */

const OWNER = { id: 111, first_name: 'Ada' };
const SKILLS = `${DECORATOR}
@skill("Say hello.")
def hello() -> str:
    return "hello from python"
`;

t.test('DATABASE_URL: updates are stored in PostgreSQL and answered; readiness and metrics name the replica', async (t) => {
  const db = await freshDatabase(t);
  if (db.skip !== undefined) return void t.skip(db.skip, () => {});
  const dir = t.testdir({ skills: { 'hello.py': SKILLS }, workspace: {} });
  const adminPort = await freePort();
  const { telegram, log, gateway } = await startWebhookGateway(t, {
    dir,
    env: { ADMIN_PORT: String(adminPort), DATABASE_URL: db.url, REPLICA_ID: 'gw-test', REPLICA_LEASE_MS: '3000' },
  });
  t.equal(gateway.store.kind, 'postgres');
  t.match(log.text(), /"store":"postgres"/, 'the start log names the store');
  t.match(log.text(), /Inbox store open \(PostgreSQL\)/);
  t.notMatch(log.text(), /DATA_DIR.*inbox\.sqlite/, 'no SQLite inbox');

  const before = telegram.sent.length;
  const res = await telegram.pushUpdate(telegram.textUpdate(OWNER, '/run hello'));
  t.equal(res.status, 200);
  const [reply] = (await telegram.waitForMessages(before + 1)).slice(before);
  t.match(reply?.text, /hello from python/, 'answered through the skill');
  t.equal((await telegram.pushUpdate({ update_id: (telegram.textUpdate(OWNER, 'x') as { update_id: number }).update_id - 1 })).status, 200, 'a re-delivery is acknowledged');

  const ready = await request(`http://127.0.0.1:${adminPort}/readyz`);
  const body = (await ready.body.json()) as { status: string; reasons: string[]; detail: { store: { kind: string; location: string }; database: { replica: string; liveReplicas: number; writable: boolean } } };
  t.equal(ready.statusCode, 200, body.reasons.join('; '));
  t.equal(body.status, 'ready');
  t.equal(body.detail.store.kind, 'postgres');
  t.match(body.detail.database, { writable: true, liveReplicas: 1, replica: /^gw-test-\d+-[0-9a-f]{6}$/ });
  t.notMatch(JSON.stringify(body), /password/i);
  const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
  t.match(metrics, /skillgate_updates_total\{[^}]*replica="gw-test"/, 'every series carries the replica label');
  t.match(metrics, /skillgate_replicas_live\{replica="gw-test"\} 1/, 'the live replicas as this one sees them');
});
