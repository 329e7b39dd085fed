import type { FakeTelegram } from '../../fakes/telegram.js';
import { range, waitForReplies, type CrashCounts } from './burst.js';
import { sleep } from './net.js';
import { BASE_USER_ID, burstIdOf, burstText, telegramUpdate } from './payload.js';
import type { ChildProcesses } from './processes.js';
import { replicaClient, replicaHoldings, restartReplica, type Replica } from './replicas.js';
import { round } from './stats.js';
import { WebhookClient } from './webhook-client.js';

export interface ReplicaCrashOptions {
  procs: ChildProcesses;
  /** In this process, so every reply is seen with its chat as it arrives. */
  telegram: FakeTelegram;
  databaseUrl: string;
  /** The replica killed with -9 once half the updates are acked, then restarted. */
  victim: Replica;
  /** Where updates are posted: a proxy in front of the replicas, or the replicas themselves (a failed post moves to the next). */
  targets: string[];
  /** CA for https targets (ignored for http). */
  ca: string;
  updates: number;
  chats: number;
  /** Bound on one update being acked (retries included), on the takeover, and on the drain. */
  timeoutMs: number;
}

/** in_flight_at_kill: rows the dead replica had claimed and not marked replied, in its lanes. */
export interface ReplicaCrashResults extends CrashCounts {
  /** Chats whose lane the dead replica owned at the kill. */
  chats_owned_at_kill: number;
  /** Kill until the first reply, from the survivor, in a chat the dead replica owned (-1: none within the bound). */
  takeover_ms: number;
  /** Chats whose replies came out of update_id order (a duplicate right after its original is in order). */
  out_of_order_chats: number;
  restart_ready_ms: number;
  /** Kill until every acked update was answered. */
  drain_s: number;
}

/**
 * A burst over `chats` chats while one replica is killed -9 half way and restarted. Each chat is
 * posted in update_id order, the next only after the previous got its 200, and a failed post is
 * retried (moving to the next target) as Telegram retries: so a chat's replies must come in
 * update_id order whichever replica ran them. The victim is restarted only after its chats moved,
 * so that first reply in one of them is the survivor's and times the takeover.
 */
export async function runReplicaCrash(options: ReplicaCrashOptions): Promise<ReplicaCrashResults> {
  const { telegram, updates, chats, timeoutMs } = options;
  const clients = options.targets.map((url) => new WebhookClient(url, options.ca, chats));
  const acked = new Set<number>();
  const sentBefore = telegram.sent.length;
  let crash: Promise<CrashAftermath> | undefined;
  const killAfter = Math.floor(updates / 2);
  const post = async (id: number, chat: number) => {
    const update = telegramUpdate({ updateId: id, userId: BASE_USER_ID + chat, text: burstText(id) });
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      if ((await clients[(chat + attempt) % clients.length]!.post(update)) === 200) return true;
      await sleep(Math.min(500, 50 * (attempt + 1)));
    }
    return false;
  };
  const chatWorker = async (chat: number) => {
    for (let id = chat === 0 ? chats : chat; id <= updates; id += chats) {
      if (!(await post(id, chat))) return;
      acked.add(id);
      if (!crash && acked.size >= killAfter) {
        crash = killAndRestart(options, acked.size);
        // Awaited once the burst is posted; a failure meanwhile must not end the process as unhandled.
        crash.catch(() => {});
      }
    }
  };
  try {
    await Promise.all(range(0, chats - 1).map(chatWorker));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  if (!crash) throw new Error('replica crash: the burst ended before half of it was acked');
  const aftermath = await crash;
  const replies = await waitForReplies(telegram, acked, timeoutMs);
  const lost = [...acked].filter((id) => !replies.counts.has(id)).length;
  return {
    sent: updates,
    acked: acked.size,
    acked_before_kill: aftermath.ackedBeforeKill,
    lost,
    duplicated: [...replies.counts.values()].filter((n) => n > 1).length,
    in_flight_at_kill: aftermath.claimed,
    chats_owned_at_kill: aftermath.ownedChats,
    takeover_ms: aftermath.takeoverMs,
    out_of_order_chats: outOfOrderChats(telegram.sent.slice(sentBefore)),
    restart_ready_ms: aftermath.restartReadyMs,
    drain_s: round(Math.max(0, (replies.lastReplyAt - aftermath.killedAt) / 1000), 2),
  };
}

interface CrashAftermath {
  ackedBeforeKill: number;
  killedAt: number;
  claimed: number;
  ownedChats: number;
  takeoverMs: number;
  restartReadyMs: number;
}

async function killAndRestart(options: ReplicaCrashOptions, ackedBeforeKill: number): Promise<CrashAftermath> {
  const { victim, telegram } = options;
  const killedAt = performance.now();
  victim.gateway.child.signal('SIGKILL');
  await victim.gateway.child.exited;
  const callsAtKill = telegram.calls.length;
  // Its own sends that were on the wire at the kill still arrive now; only another replica's count.
  const fromAnotherReplica = (c: (typeof telegram.calls)[number]) => c.method === 'sendMessage' && c.client !== replicaClient(victim.name) && holdings.chats.has(Number(c.params.chat_id));
  // Read before the lease runs out: after it the survivor owns these lanes and re-claims the rows.
  const holdings = await replicaHoldings(options.databaseUrl, victim.name);
  let takeoverMs = -1;
  const deadline = performance.now() + options.timeoutMs;
  while (holdings.chats.size > 0 && performance.now() < deadline) {
    if (telegram.calls.slice(callsAtKill).some(fromAnotherReplica)) {
      takeoverMs = Math.round(performance.now() - killedAt);
      break;
    }
    await sleep(10);
  }
  const restarted = await restartReplica(options.procs, victim);
  options.victim.gateway = restarted.gateway;
  return { ackedBeforeKill, killedAt, claimed: holdings.claimed, ownedChats: holdings.chats.size, takeoverMs, restartReadyMs: Math.round(restarted.gateway.readyMs) };
}

/** Chats whose burst replies are not in non-decreasing update_id order. */
function outOfOrderChats(sent: FakeTelegram['sent']): number {
  const last = new Map<number, number>();
  const bad = new Set<number>();
  for (const m of sent) {
    const id = burstIdOf(m.text);
    if (id === undefined) continue;
    if ((last.get(m.chat_id) ?? 0) > id) bad.add(m.chat_id);
    last.set(m.chat_id, id);
  }
  return bad.size;
}
