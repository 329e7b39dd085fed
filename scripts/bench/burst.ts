import path from 'node:path';
import Database from 'better-sqlite3';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway, type RunningGateway } from './gateway-process.js';
import { sleep } from './net.js';
import { BASE_USER_ID, BENCH_TOKEN, burstIdOf, burstText, telegramUpdate } from './payload.js';
import { round, rssMb } from './stats.js';
import { WebhookClient } from './webhook-client.js';

/** What a kill -9 mid-burst is judged by, for one gateway (here) and for a replica among two (replica-crash.ts). */
export interface CrashCounts {
  sent: number;
  /** Updates that got a 200, in the first run or on resend. */
  acked: number;
  acked_before_kill: number;
  /** Acked but never answered. */
  lost: number;
  /** Answered more than once. */
  duplicated: number;
  /**
   * Sends in flight at the kill: updates the killed gateway's inbox held as claimed (processing)
   * and not yet marked replied. The claim is committed before the send starts and the replied
   * mark right after it returns, so only these can be answered twice (sendMessage has no
   * idempotency key): the target is duplicated <= in_flight_at_kill.
   */
  in_flight_at_kill: number;
}

export interface BurstResults extends CrashCounts {
  /** Restart until the last reply. */
  drain_s: number;
  restart_ready_ms: number;
  /** Gateway (node) RSS just before the kill, under load. */
  rss_mb_before_kill: number;
  /** Gateway (node) RSS of the restarted process once everything is answered. */
  rss_mb_after: number;
}

/**
 * Crash burst: N updates over C chats pushed concurrently, kill -9 of the gateway once half are
 * acked, restart on the same DATA_DIR, resend every update that did not get a 200 (as Telegram
 * retries), wait for the replies. Each update is `/b<id>` so its reply names it.
 */
export async function benchBurst(ctx: BenchContext): Promise<BurstResults> {
  const { burstUpdates: total, burstChats: chats, burstConcurrency: concurrency } = ctx.profile;
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  const spec = await gatewaySpec(ctx, 'burst', telegram.apiBase, { allowedUsers: chats });
  const update = (id: number) => telegramUpdate({ updateId: id, userId: BASE_USER_ID + (id % chats), text: burstText(id) });
  const acked = new Set<number>();
  let gateway: RunningGateway | undefined;
  try {
    gateway = await startGateway(ctx.procs, spec);
    ctx.progress(`burst: ${total} updates over ${chats} chats, ${concurrency} in flight; kill -9 at ${Math.floor(total / 2)} acked`);
    const first = gateway;
    let rssBeforeKill = Number.NaN;
    let killed = false;
    await pushAll(gateway, ctx.tls.cert, concurrency, range(1, total), update, acked, () => {
      if (killed || acked.size < total / 2) return killed;
      killed = true;
      rssBeforeKill = rssMb(first.child.pid);
      first.child.signal('SIGKILL');
      return true;
    });
    await first.child.exited;
    const ackedBeforeKill = acked.size;
    const inFlightAtKill = claimedRows(spec.dataDir);

    ctx.progress(`burst: killed with ${ackedBeforeKill} acked and ${telegram.sent.length} replies sent; restarting`);
    const restartedAt = performance.now();
    gateway = await startGateway(ctx.procs, { ...spec, ports: first.ports });
    const restartReadyMs = gateway.readyMs;
    const missing = range(1, total).filter((id) => !acked.has(id));
    await pushAll(gateway, ctx.tls.cert, concurrency, missing, update, acked, () => false);

    const replies = await waitForReplies(telegram, acked, ctx.profile.drainTimeoutMs);
    const drainS = (replies.lastReplyAt - restartedAt) / 1000;
    const rssAfter = rssMb(gateway.child.pid);
    const lost = [...acked].filter((id) => !replies.counts.has(id)).length;
    const duplicated = [...replies.counts.values()].filter((n) => n > 1).length;
    return {
      sent: total,
      acked: acked.size,
      acked_before_kill: ackedBeforeKill,
      lost,
      duplicated,
      in_flight_at_kill: inFlightAtKill,
      drain_s: round(Math.max(0, drainS), 2),
      restart_ready_ms: Math.round(restartReadyMs),
      rss_mb_before_kill: rssBeforeKill,
      rss_mb_after: rssAfter,
    };
  } finally {
    await gateway?.child.stop();
    await telegram.close();
  }
}

/** Rows a dead gateway left claimed (processing): what it was sending when it died. */
function claimedRows(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'inbox.sqlite'));
  try {
    return db.prepare(`SELECT COUNT(*) FROM updates WHERE state = 'processing'`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * Posts `ids` with `concurrency` requests in flight. After every 200, `shouldStop` may end the
 * push (it kills the gateway); requests still in flight then fail and stay un-acked.
 */
async function pushAll(
  gateway: RunningGateway,
  ca: string,
  concurrency: number,
  ids: number[],
  update: (id: number) => object,
  acked: Set<number>,
  shouldStop: () => boolean,
): Promise<void> {
  const client = new WebhookClient(gateway.webhookUrl, ca, concurrency);
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < ids.length) {
      const id = ids[next++]!;
      const status = await client.post(update(id));
      if (status === 200) acked.add(id);
      if (status === 200 && shouldStop()) stopped = true;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await client.close();
  }
}

export interface Replies {
  /** update id -> number of replies naming it */
  counts: Map<number, number>;
  lastReplyAt: number;
}

/** Scans FakeTelegram's sent messages until every acked id is answered, bounded by `timeoutMs`. */
export async function waitForReplies(telegram: FakeTelegram, acked: Set<number>, timeoutMs: number): Promise<Replies> {
  const counts = new Map<number, number>();
  let scanned = 0;
  let lastReplyAt = performance.now();
  const deadline = performance.now() + timeoutMs;
  const answered = () => [...acked].every((id) => counts.has(id));
  const scan = () => {
    for (; scanned < telegram.sent.length; scanned++) {
      const id = burstIdOf(telegram.sent[scanned]!.text);
      if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  };
  do {
    if (telegram.sent.length > scanned) lastReplyAt = performance.now();
    scan();
    if (answered()) break;
    await sleep(20);
  } while (performance.now() < deadline);
  // A late duplicate would show up within moments of the drain; give it a short window.
  await sleep(500);
  scan();
  return { counts, lastReplyAt };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
