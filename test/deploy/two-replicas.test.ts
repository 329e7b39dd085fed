import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { FakeTelegram } from '../../fakes/telegram.js';
import { writeSkillFixtures } from '../../scripts/bench/fixtures.js';
import type { GatewaySpec } from '../../scripts/bench/gateway-process.js';
import { writeSelfSigned } from '../../scripts/bench/net.js';
import { BASE_USER_ID, BENCH_SECRET, BENCH_TOKEN, burstIdOf, burstText, telegramUpdate } from '../../scripts/bench/payload.js';
import { ChildProcesses } from '../../scripts/bench/processes.js';
import { runReplicaCrash } from '../../scripts/bench/replica-crash.js';
import { replicaClient, startReplica, type ReplicaDatabase } from '../../scripts/bench/replicas.js';
import { ROOT } from '../helpers/gateway-process.js';
import { startShippedHaNginx } from '../helpers/nginx.js';
import { freshDatabase } from '../helpers/postgres.js';
import { waitUntil, which } from '../helpers/system.js';
import type { TestContext } from '../helpers/tap.js';

/**
 * Issue 17 end to end: two real gateway processes on one real PostgreSQL database, behind a real
 * nginx upstream on loopback. A kill -9 of one replica mid-burst loses nothing acked, sends at most
 * what it had in flight twice, and keeps every chat's order; an update posted to both replicas is
 * answered once; in polling mode exactly one replica polls and the other takes over when it dies.
 */

const WEBHOOK_PATH = '/telegram/webhook';
const LEASE_MS = 1_500;
const CHATS = 20;
const UPDATES = 600;
/** Bound on every wait of this file: an ack with its retries, a takeover, a drain. */
const BOUND_MS = 30_000;
const nginxBin = which('nginx');

/** The shipped deploy/nginx/skillgate-ha.conf (TLS left out) in front of the two replicas. */
async function startNginx(t: TestContext, bin: string, replicaPorts: [number, number]): Promise<string> {
  const nginx = await startShippedHaNginx(bin, t.testdir(), replicaPorts);
  t.teardown(() => nginx.stop());
  return `http://127.0.0.1:${nginx.port}${WEBHOOK_PATH}`;
}

/** Everything both kinds of test share: a fake Telegram in this process, fixtures, processes killed in teardown for sure. */
async function cluster(t: TestContext) {
  const dir = t.testdir();
  const procs = new ChildProcesses();
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  t.teardown(async () => {
    procs.killAll();
    await procs.stopAll();
    await telegram.close();
  });
  const tls = await writeSelfSigned(dir);
  const base: GatewaySpec = {
    repoRoot: ROOT,
    // Through tsx like every other process test, so the test never runs a stale dist/.
    entry: 'src/main.ts',
    nodeArgs: ['--import', 'tsx'],
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir },
    tls,
    dataDir: path.join(dir, 'data'),
    ...(await writeSkillFixtures(dir)),
    telegramApiBase: telegram.apiBase,
    allowedUsers: CHATS,
    env: { TLS: 'off', TRUST_PROXY: '127.0.0.1' },
  };
  return { procs, telegram, tls, base };
}

async function database(t: TestContext): Promise<ReplicaDatabase | undefined> {
  const db = await freshDatabase(t);
  if (db.skip !== undefined) {
    t.skip(db.skip, () => {});
    return undefined;
  }
  return { url: db.url, leaseMs: LEASE_MS };
}

async function post(url: string, update: object): Promise<number> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': BENCH_SECRET },
    body: JSON.stringify(update),
  });
  await res.body.dump();
  return res.statusCode;
}

const repliesTo = (telegram: FakeTelegram, id: number) => telegram.sent.filter((m) => burstIdOf(m.text) === id).length;

t.test('two replicas behind nginx', { skip: !nginxBin && 'nginx is not installed (apt-get install -y --no-install-recommends nginx-light)' }, async (t) => {
  const db = await database(t);
  if (!db) return;
  const { procs, telegram, tls, base } = await cluster(t);
  const [a, b] = await Promise.all([startReplica(procs, base, 'a', db), startReplica(procs, base, 'b', db)]);
  const proxy = await startNginx(t, nginxBin!, [a.gateway.ports.main, b.gateway.ports.main]);

  t.test('the same update posted directly to both replicas is answered once', async (t) => {
    const id = 900_001;
    const update = telegramUpdate({ updateId: id, userId: BASE_USER_ID + 1, text: burstText(id) });
    t.same(await Promise.all([post(a.gateway.webhookUrl, update), post(b.gateway.webhookUrl, update)]), [200, 200], 'both acknowledge it');
    t.ok(await waitUntil(() => repliesTo(telegram, id) > 0, BOUND_MS), 'answered');
    // A second answer would come within moments of the first; wait longer than a heartbeat.
    await waitUntil(() => repliesTo(telegram, id) > 1, LEASE_MS);
    t.equal(repliesTo(telegram, id), 1, 'exactly one reply');
  });

  t.test(`a burst over ${CHATS} chats through nginx, kill -9 of one replica half way, restart`, async (t) => {
    const result = await runReplicaCrash({ procs, telegram, databaseUrl: db.url, victim: a, targets: [proxy], ca: tls.cert, updates: UPDATES, chats: CHATS, timeoutMs: BOUND_MS });
    t.comment(JSON.stringify(result));
    t.ok(result.chats_owned_at_kill > 0, `the killed replica owned chats (${result.chats_owned_at_kill})`);
    t.equal(result.acked, UPDATES, 'every update acked in the end (a 502 at the kill retried)');
    t.equal(result.lost, 0, 'every acked update answered');
    // Bound: the rows the dead replica had claimed and not marked replied, read right after the
    // kill. Only those can have been sent before the kill and be sent again by the new owner.
    t.ok(result.duplicated <= result.in_flight_at_kill, `duplicated ${result.duplicated} <= in flight at the kill ${result.in_flight_at_kill}`);
    t.equal(result.out_of_order_chats, 0, "each chat's replies in update_id order");
    t.ok(result.takeover_ms >= 0 && result.takeover_ms < BOUND_MS, `its chats moved (${result.takeover_ms} ms, lease ${LEASE_MS} ms)`);
  });
});

t.test('polling: exactly one replica polls; kill -9 it and the other polls and answers', async (t) => {
  const db = await database(t);
  if (!db) return;
  const { procs, telegram, base } = await cluster(t);
  const replicas = await Promise.all(['a', 'b'].map((name) => startReplica(procs, base, name, db, { TELEGRAM_MODE: 'polling' })));
  const pollersSince = (at: number) => new Set(telegram.callsOf('getUpdates').filter((c) => c.at >= at).map((c) => c.client));
  t.ok(await waitUntil(() => pollersSince(0).size > 0, BOUND_MS), 'someone polls');
  // Several retry periods of the one that is not the poller (lease/5).
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 2));
  t.equal(pollersSince(0).size, 1, `getUpdates from one replica only (${[...pollersSince(0)].join(', ')})`);
  t.equal(telegram.pollConflicts, 0, 'no 409 Conflict');

  const poller = replicas.find((r) => pollersSince(0).has(replicaClient(r.name)))!;
  const other = replicas.find((r) => r !== poller)!;
  const killedAt = Date.now();
  poller.gateway.child.signal('SIGKILL');
  await poller.gateway.child.exited;
  const id = 900_002;
  telegram.enqueueUpdate(telegramUpdate({ updateId: id, userId: BASE_USER_ID, text: burstText(id) }) as Record<string, unknown>);
  t.ok(await waitUntil(() => repliesTo(telegram, id) === 1, BOUND_MS), 'the new update is answered');
  t.same([...pollersSince(killedAt)], [replicaClient(other.name)], 'by the other replica, now the poller');
  const failoverMs = Math.min(...telegram.callsOf('getUpdates').filter((c) => c.at >= killedAt && c.client === replicaClient(other.name)).map((c) => c.at)) - killedAt;
  t.ok(failoverMs < BOUND_MS, `polling again ${failoverMs} ms after the kill`);
});
