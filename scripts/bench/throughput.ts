import type { BenchContext } from './context.js';
import { BASE_USER_ID, telegramUpdate } from './payload.js';
import { withFakeTelegram, withSkillgate, withTarget, type FakeTelegramProcess } from './servers.js';
import type { BenchChild } from './processes.js';
import { alternatingRounds, cpuMs, median, medianFigures, percentiles, round } from './stats.js';
import { WebhookClient } from './webhook-client.js';

/** A greeting no skill matches: skillgate answers with the help text, grammY with a fixed line. */
const TEXT = 'Hello! What can you do for me today?';
const CHATS = 100;
/** Bound on the N-th reply after the last POST was acknowledged (a stuck target fails the run). */
const REPLY_TIMEOUT_MS = 60_000;

export interface ThroughputFigures {
  /** First POST until the N-th reply arrived at the fake Bot API. */
  ms: number;
  msg_per_s: number;
  /** Webhook POST until its 200. */
  ack_p50_ms: number;
  ack_p99_ms: number;
  non200: number;
  /**
   * CPU time of the server process (all its threads: event loop, GC, fsyncs in the threadpool)
   * per message over the measured window, in ms. Far steadier than msg/s on a shared machine:
   * other load stretches the wall clock, much less the CPU a message costs.
   */
  cpu_ms_per_msg: number;
}

/** One round: both servers, one after the other, on fresh processes. */
export interface ThroughputRound {
  skillgate: ThroughputFigures;
  grammy_reply: ThroughputFigures;
  /** grammY's time over skillgate's (= skillgate's msg/s over grammY's) in this round. */
  ratio: number;
}

export interface ThroughputResults {
  n: number;
  chats: number;
  connections: number;
  /** Each figure the median over the rounds. */
  skillgate: ThroughputFigures;
  /** grammY's webhookCallback on Fastify with a handler that calls ctx.reply for every message. */
  grammy_reply: ThroughputFigures;
  /** The median of the per-round ratios: each pair ran back to back, so a slow spell of a shared machine hits both sides of it. */
  ratio: number;
  rounds: ThroughputRound[];
}

/**
 * The same work on both sides: N text messages over 100 chats, pushed over `connections`
 * keep-alive HTTPS connections, one reply each to the same fake Bot API (its own process). Timed
 * from the first POST until the fake saw the N-th sendMessage. A warm-up of N/10 messages first
 * (JIT, connections, the gateway's first commits), not counted.
 */
export async function benchThroughput(ctx: BenchContext): Promise<ThroughputResults> {
  const { throughputMessages: n, throughputRounds: roundCount, connections } = ctx.profile;
  const run = (telegram: FakeTelegramProcess, url: string, child: BenchChild) => measureThroughput(ctx, telegram, [url], [child]);
  const grammyRun = (r: number) => {
    ctx.progress(`throughput ${r}/${roundCount}: grammY replying, ${n} messages over ${CHATS} chats, ${connections} connections`);
    return withFakeTelegram(ctx, (telegram) => withTarget(ctx, 'grammy-server.ts', (url, child) => run(telegram, url, child), { apiRoot: telegram.apiBase }));
  };
  const skillgateRun = (r: number) => {
    ctx.progress(`throughput ${r}/${roundCount}: skillgate, ${n} messages`);
    return withFakeTelegram(ctx, (telegram) => withSkillgate(ctx, `throughput-${r}`, telegram, (url, child) => run(telegram, url, child)));
  };
  const rounds: ThroughputRound[] = (await alternatingRounds(roundCount, grammyRun, skillgateRun)).map(([grammy, skillgate]) => ({
    skillgate,
    grammy_reply: grammy,
    ratio: round(grammy.ms / skillgate.ms, 3),
  }));
  return {
    n,
    chats: CHATS,
    connections,
    skillgate: medianFigures(rounds.map((r) => r.skillgate), ['non200']),
    grammy_reply: medianFigures(rounds.map((r) => r.grammy_reply), ['non200']),
    ratio: median(rounds.map((r) => r.ratio)),
    rounds,
  };
}

/**
 * The throughput run's measurement against one server or several sharing the work (replicas on
 * one database, the `ha` run): update `id` goes to `urls[id % urls.length]`, so each gets an
 * equal share of every chat; CPU is summed over `children`. Update ids start above `idsAbove`
 * (a second measurement on the same store must not be taken for re-deliveries).
 */
export async function measureThroughput(ctx: BenchContext, telegram: FakeTelegramProcess, urls: string[], children: BenchChild[], idsAbove = 0): Promise<ThroughputFigures> {
  const n = ctx.profile.throughputMessages;
  const connections = ctx.profile.connections;
  const warmup = Math.max(100, Math.floor(n / 10));
  const clients = urls.map((url) => new WebhookClient(url, ctx.tls.cert, Math.ceil(connections / urls.length)));
  const cpuOfAll = () => children.reduce((sum, child) => sum + cpuMs(child.pid), 0);
  try {
    await telegram.mark();
    await push(clients, idsAbove + 1, warmup, connections);
    await telegram.until(warmup, REPLY_TIMEOUT_MS);
    await telegram.mark();
    const started = performance.now();
    const cpuBefore = cpuOfAll();
    const replies = telegram.until(n, REPLY_TIMEOUT_MS * 2);
    const { acks, non200 } = await push(clients, idsAbove + warmup + 1, n, connections);
    await replies;
    const ms = performance.now() - started;
    const cpu = cpuOfAll() - cpuBefore;
    const ack = percentiles(acks);
    return {
      ms: Math.round(ms),
      msg_per_s: Math.round((n * 1000) / ms),
      ack_p50_ms: ack.p50_ms,
      ack_p99_ms: ack.p99_ms,
      non200,
      cpu_ms_per_msg: round(cpu / n, 3),
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Posts updates first .. first+count-1 with `connections` requests in flight; every loop ends when the ids run out. */
async function push(clients: WebhookClient[], first: number, count: number, connections: number): Promise<{ acks: number[]; non200: number }> {
  const acks: number[] = [];
  let non200 = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const id = first + next++;
      const body = telegramUpdate({ updateId: id, userId: BASE_USER_ID + (id % CHATS), text: TEXT });
      const at = performance.now();
      const status = await clients[id % clients.length]!.post(body);
      acks.push(performance.now() - at);
      if (status !== 200) non200++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  if (non200 > 0) throw new Error(`throughput: ${non200} of ${count} webhook POSTs were not answered 200`);
  return { acks: acks.map((a) => round(a, 3)), non200 };
}
