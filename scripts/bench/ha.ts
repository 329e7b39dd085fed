import { randomBytes } from 'node:crypto';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewaySpec, type BenchContext } from './context.js';
import { BENCH_TOKEN } from './payload.js';
import { adminQuery, startPostgres, withDatabase, type PostgresInstance } from './postgres.js';
import type { BenchProfile } from './profile.js';
import { runReplicaCrash, type ReplicaCrashResults } from './replica-crash.js';
import { startReplica, type Replica, type ReplicaDatabase } from './replicas.js';
import { withFakeTelegram } from './servers.js';
import { markdownTable, ratio } from './table.js';
import { measureThroughput, type ThroughputFigures } from './throughput.js';

/** Short, as in the two-replica test: the takeover figure is this lease plus at most a heartbeat. */
const LEASE_MS = 1_500;

export interface HaResults {
  lease_ms: number;
  /** The throughput run's shape (N messages over 100 chats, one reply each) on PostgreSQL. */
  throughput: { n: number; one_replica: ThroughputFigures; two_replicas: ThroughputFigures };
  /** kill -9 of one of two replicas half way through a burst, posts failing over to the other. */
  kill: ReplicaCrashResults & { chats: number };
}

export type HaOutcome = HaResults | { skipped: string };

/**
 * Issue 17's figures: throughput with one and with two replicas on the same database (the same
 * messages, split evenly over the replicas), and a kill -9 of one replica mid-burst: lost,
 * duplicated, in flight, time until its chats moved. Its own PostgreSQL server (fsync off, as the
 * tests run it), a fresh database per measurement.
 */
export async function benchHa(ctx: BenchContext): Promise<HaOutcome> {
  const server = await startPostgres();
  if ('missing' in server) {
    ctx.progress(`ha: skipped: ${server.missing}`);
    return { skipped: server.missing };
  }
  try {
    const n = ctx.profile.haMessages;
    const { one, two } = await replicaThroughput(ctx, server);
    ctx.progress(`ha: kill -9 of one of two replicas half way through ${ctx.profile.haKillUpdates} updates over ${ctx.profile.burstChats} chats`);
    const kill = await replicaKill(ctx, server);
    return { lease_ms: LEASE_MS, throughput: { n, one_replica: one, two_replicas: two }, kill: { ...kill, chats: ctx.profile.burstChats } };
  } finally {
    await server.close();
  }
}

async function freshDatabase(server: PostgresInstance): Promise<ReplicaDatabase> {
  const name = `skillgate_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(server.url, `CREATE DATABASE ${name}`);
  return { url: withDatabase(server.url, name), leaseMs: LEASE_MS };
}

/**
 * One replica measured alone, then a second one started on the same database and both measured
 * together (each gets half of every chat's messages; a chat is run by whichever replica owns it).
 */
async function replicaThroughput(ctx: BenchContext, server: PostgresInstance): Promise<{ one: ThroughputFigures; two: ThroughputFigures }> {
  const db = await freshDatabase(server);
  const haCtx = { ...ctx, profile: { ...ctx.profile, throughputMessages: ctx.profile.haMessages } };
  return withFakeTelegram(ctx, async (telegram) => {
    const base = await gatewaySpec(ctx, 'ha-throughput', telegram.apiBase, { env: { INBOX_MAX_PENDING: '10000000' } });
    const replicas: Replica[] = [];
    let idsAbove = 0;
    const measure = async () => {
      const figures = await measureThroughput(haCtx, telegram, replicas.map((r) => r.gateway.webhookUrl), replicas.map((r) => r.gateway.child), idsAbove);
      idsAbove += 2 * ctx.profile.haMessages;
      return figures;
    };
    try {
      replicas.push(await startReplica(ctx.procs, base, 'a', db));
      ctx.progress(`ha: throughput, ${ctx.profile.haMessages} messages over 100 chats, one replica on PostgreSQL`);
      const one = await measure();
      replicas.push(await startReplica(ctx.procs, base, 'b', db));
      ctx.progress(`ha: throughput, the same again with a second replica on the database`);
      return { one, two: await measure() };
    } finally {
      await Promise.all(replicas.map((r) => r.gateway.child.stop()));
    }
  });
}

async function replicaKill(ctx: BenchContext, server: PostgresInstance): Promise<ReplicaCrashResults> {
  const db = await freshDatabase(server);
  const chats = ctx.profile.burstChats;
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  const replicas: Replica[] = [];
  try {
    const base = await gatewaySpec(ctx, 'ha-kill', telegram.apiBase, { allowedUsers: chats });
    for (const name of ['a', 'b']) replicas.push(await startReplica(ctx.procs, base, name, db));
    const [victim, survivor] = replicas as [Replica, Replica];
    return await runReplicaCrash({
      procs: ctx.procs,
      telegram,
      databaseUrl: db.url,
      victim,
      targets: [victim.gateway.webhookUrl, survivor.gateway.webhookUrl],
      ca: ctx.tls.cert,
      updates: ctx.profile.haKillUpdates,
      chats,
      timeoutMs: ctx.profile.drainTimeoutMs,
    });
  } finally {
    await Promise.all(replicas.map((r) => r.gateway.child.stop()));
    await telegram.close();
  }
}

/** The report's `ha` section. */
export function renderHa(p: BenchProfile, ha: HaOutcome | undefined): string[] {
  const out = ['', `### Two replicas on PostgreSQL (REPLICA_LEASE_MS=${LEASE_MS}; ${p.haMessages} messages over 100 chats; kill -9 of one of two mid-burst of ${p.haKillUpdates} over ${p.burstChats} chats)`, ''];
  if (ha && 'skipped' in ha) return [...out, `skipped: ${ha.skipped}`];
  const t = ha?.throughput;
  const row = (label: string, f: ThroughputFigures | undefined) => [label, f?.ms ?? Number.NaN, f?.msg_per_s ?? Number.NaN, f?.ack_p50_ms ?? Number.NaN, f?.ack_p99_ms ?? Number.NaN, f?.cpu_ms_per_msg ?? Number.NaN, ratio(f?.msg_per_s, t?.one_replica.msg_per_s)];
  out.push(markdownTable(['replicas', 'first POST to last reply ms', 'msg/s', 'ack p50 ms', 'ack p99 ms', 'CPU ms per msg (all replicas)', 'vs one'], t ? [row('one', t.one_replica), row('two, same database', t.two_replicas)] : []));
  const k = ha?.kill;
  out.push('', markdownTable(
    ['sent', 'acked', 'lost', 'duplicated', 'in flight at the kill', 'chats it owned', 'kill to first reply in a moved chat ms', 'chats out of order', 'drain s'],
    k ? [[k.sent, k.acked, k.lost, k.duplicated, k.in_flight_at_kill, k.chats_owned_at_kill, k.takeover_ms, k.out_of_order_chats, k.drain_s]] : [],
  ));
  return out;
}
