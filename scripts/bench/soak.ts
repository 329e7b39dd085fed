import Database from 'better-sqlite3';
import path from 'node:path';
import { request } from 'undici';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway, type GatewaySpec } from './gateway-process.js';
import { sleep } from './net.js';
import { BASE_USER_ID, BENCH_TOKEN, burstIdOf, burstText, telegramUpdate } from './payload.js';
import type { ChildProcesses } from './processes.js';
import { round } from './stats.js';
import { WebhookClient } from './webhook-client.js';

export interface SoakRound {
  acked: number;
  answered: number;
  /** First POST of the round until its last acked update was answered (or the bound). */
  drain_s: number;
  /** Highest oldest-unclaimed age /readyz reported while the round ran, in seconds. */
  max_oldest_unclaimed_s: number;
}

export interface SoakResults {
  rounds: number;
  updates_per_round: number;
  chats: number;
  busy_loops: number;
  acked: number;
  answered: number;
  /** Acked and never answered within the round's bound (issue 18: must be 0). */
  unanswered: number;
  /** Rows still in state 'accepted' in inbox.sqlite after the last round (must be 0). */
  left_accepted: number;
  max_drain_s: number;
  max_oldest_unclaimed_s: number;
  per_round: SoakRound[];
}

export interface SoakOptions {
  procs: ChildProcesses;
  spec: GatewaySpec;
  telegram: FakeTelegram;
  ca: string;
  rounds: number;
  updates: number;
  chats: number;
  connections: number;
  /** CPU hogs competing with the gateway for the cores. */
  busyLoops: number;
  /** Bound on waiting for one round's replies. */
  roundTimeoutMs: number;
  progress?: (line: string) => void;
}

/**
 * Soak (issue 18): rounds of N text messages over C chats through the real gateway (node
 * dist/main.js, HTTPS, keep-alive) while busy loops compete for the CPU, one reply expected per
 * update on the fake Bot API. Every acked update must be answered within the round and nothing may
 * be left `accepted` in the store at the end. Every loop is bounded in count and time.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResults> {
  const { procs, spec, telegram, rounds, updates, chats } = options;
  const hogs = Array.from({ length: options.busyLoops }, (_, i) => procs.spawn(`busy-${i}`, process.execPath, ['-e', 'for (;;) {}']));
  const gateway = await startGateway(procs, { ...spec, allowedUsers: chats, env: { INBOX_MAX_PENDING: '100000', ...spec.env } });
  const counts = new Map<number, number>();
  let scanned = 0;
  const scan = () => {
    for (; scanned < telegram.sent.length; scanned++) {
      const id = burstIdOf(telegram.sent[scanned]!.text);
      if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  };
  const perRound: SoakRound[] = [];
  let nextId = 1;
  try {
    for (let r = 1; r <= rounds; r++) {
      const ids = Array.from({ length: updates }, () => nextId++);
      const acked = new Set<number>();
      const started = performance.now();
      let maxOldest = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          maxOldest = Math.max(maxOldest, await oldestUnclaimedS(gateway.adminUrl));
          await sleep(250);
        }
      })();
      await pushAll(gateway.webhookUrl, options.ca, options.connections, ids, chats, acked);
      const deadline = performance.now() + options.roundTimeoutMs;
      const unanswered = () => [...acked].filter((id) => !counts.has(id)).length;
      let drainedAt = performance.now();
      for (scan(); unanswered() > 0 && performance.now() < deadline; scan()) {
        await sleep(20);
        drainedAt = performance.now();
      }
      sampling = false;
      await sampler;
      const answered = acked.size - unanswered();
      perRound.push({ acked: acked.size, answered, drain_s: round((drainedAt - started) / 1000, 2), max_oldest_unclaimed_s: maxOldest });
      options.progress?.(`soak round ${r}/${rounds}: ${acked.size}/${updates} acked, ${answered} answered in ${round((drainedAt - started) / 1000, 2)} s, oldest unclaimed max ${maxOldest} s`);
    }
  } finally {
    await gateway.child.stop();
    await Promise.all(hogs.map((h) => h.stop(500)));
  }
  scan();
  const acked = perRound.reduce((n, r) => n + r.acked, 0);
  const answered = perRound.reduce((n, r) => n + r.answered, 0);
  return {
    rounds,
    updates_per_round: updates,
    chats,
    busy_loops: options.busyLoops,
    acked,
    answered,
    unanswered: acked - answered,
    left_accepted: countAccepted(path.join(spec.dataDir, 'inbox.sqlite')),
    max_drain_s: Math.max(0, ...perRound.map((r) => r.drain_s)),
    max_oldest_unclaimed_s: Math.max(0, ...perRound.map((r) => r.max_oldest_unclaimed_s)),
    per_round: perRound,
  };
}

/** `npm run bench -- --only soak [--soak-rounds N]`. */
export async function benchSoak(ctx: BenchContext): Promise<SoakResults> {
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  try {
    const { soakRounds, soakUpdates, burstChats } = ctx.profile;
    ctx.progress(`soak: ${soakRounds} rounds of ${soakUpdates} updates over ${burstChats} chats, 2 busy loops`);
    return await runSoak({
      procs: ctx.procs,
      spec: await gatewaySpec(ctx, 'soak', telegram.apiBase),
      telegram,
      ca: ctx.tls.cert,
      rounds: soakRounds,
      updates: soakUpdates,
      chats: burstChats,
      connections: ctx.profile.connections,
      busyLoops: 2,
      roundTimeoutMs: 60_000,
      progress: ctx.progress,
    });
  } finally {
    await telegram.close();
  }
}

async function pushAll(url: string, ca: string, connections: number, ids: number[], chats: number, acked: Set<number>): Promise<void> {
  const client = new WebhookClient(url, ca, connections);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const status = await client.post(telegramUpdate({ updateId: id, userId: BASE_USER_ID + (id % chats), text: burstText(id) }));
      if (status === 200) acked.add(id);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    await client.close();
  }
}

async function oldestUnclaimedS(adminUrl: string): Promise<number> {
  try {
    const res = await request(`${adminUrl}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
    const body = (await res.body.json()) as { detail?: { inbox?: { oldest_unclaimed_s?: number } } };
    return body.detail?.inbox?.oldest_unclaimed_s ?? 0;
  } catch {
    return 0;
  }
}

function countAccepted(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM updates WHERE state = 'accepted'`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}
