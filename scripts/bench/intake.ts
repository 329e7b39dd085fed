import type { BenchContext } from './context.js';
import { LoadDriver, type LoadResult } from './load.js';
import { BASE_USER_ID, BENCH_SECRET, telegramUpdate } from './payload.js';
import type { BenchChild } from './processes.js';
import { withFakeTelegram, withSkillgate, withTarget } from './servers.js';
import { alternatingRounds, cpuMs, median, medianFigures, round, rssMb } from './stats.js';

/** A greeting no skill matches: the rule router answers with the help text, no Python runs. */
const INTAKE_TEXT = 'Hello! What can you do for me today?';
const CHATS = 100;
/** Failure counts: a round's worst is reported, not a median that could hide it. */
const COUNTS = ['non2xx', 'errors', 'timeouts'] as const;

export interface IntakeFigures extends LoadResult {
  rss_mb: number;
  /**
   * The server process's CPU time (user + system, all threads) per request answered in the
   * measured window, µs: on a shared machine it moves far less than req/s does.
   */
  cpu_us_per_req: number;
}

/** One round of the ratio that is a target: the floor and skillgate's intake alone, back to back. */
export interface IntakeRound {
  floor: IntakeFigures;
  skillgate_intake_only: IntakeFigures;
  /** skillgate's intake-alone req/s over the floor's in this round. */
  ratio: number;
}

export interface IntakeResults {
  /** The floor and intake alone: each figure the median over the rounds. */
  floor: IntakeFigures;
  /** grammY with a no-op handler: its intake cost alone, no reply (the replying peer is in the throughput run). */
  grammy: IntakeFigures;
  /** Real text messages: stored, acked, then routed and answered by the dispatcher meanwhile. */
  skillgate: IntakeFigures & { replies_sent_during_run: number };
  /** Edits: stored and acked, then dropped by the handler: the cost of intake alone. */
  skillgate_intake_only: IntakeFigures;
  /** Intake alone over the floor: the median of the per-round ratios (a slow spell of a shared machine hits both sides of a pair). */
  intake_only_ratio: number;
  rounds: IntakeRound[];
}

/**
 * Webhook intake, three servers side by side, each in its own process on the same HTTPS
 * certificate, same payload, same connections and duration: the floor (bare Fastify), grammY's
 * webhookCallback, and skillgate (secret check, validation, fsync'd store).
 */
export async function benchIntake(ctx: BenchContext): Promise<IntakeResults> {
  const driver = new LoadDriver();
  const messageBody = (kind: 'message' | 'edited_message') => (n: number) =>
    JSON.stringify(telegramUpdate({ updateId: n, userId: BASE_USER_ID + (n % CHATS), text: INTAKE_TEXT, kind }));

  const floorRun = (r: number) => {
    ctx.progress(`intake ${r}/${ctx.profile.intakeRounds}: floor (bare Fastify HTTPS)`);
    return withTarget(ctx, 'floor-server.ts', (url, child) => measure(ctx, driver, url, child, messageBody('message')));
  };
  const intakeOnlyRun = (r: number) => {
    ctx.progress(`intake ${r}/${ctx.profile.intakeRounds}: skillgate, edits only (stored and ignored)`);
    return withFakeTelegram(ctx, (telegram) =>
      withSkillgate(ctx, `intake-edits-${r}`, telegram, (url, child) => measure(ctx, driver, url, child, messageBody('edited_message'))),
    );
  };
  const rounds: IntakeRound[] = (await alternatingRounds(ctx.profile.intakeRounds, floorRun, intakeOnlyRun)).map(([floor, intakeOnly]) => ({
    floor,
    skillgate_intake_only: intakeOnly,
    ratio: round(intakeOnly.rps / Math.max(1, floor.rps), 3),
  }));
  ctx.progress('intake: grammY webhookCallback');
  const grammy = await withTarget(ctx, 'grammy-server.ts', (url, child) => measure(ctx, driver, url, child, messageBody('message')));
  ctx.progress('intake: skillgate, text messages (dispatcher answering meanwhile)');
  const skillgate = await withFakeTelegram(ctx, (telegram) =>
    withSkillgate(ctx, 'intake-messages', telegram, async (url, child) => {
      const figures = await measure(ctx, driver, url, child, messageBody('message'));
      return { ...figures, replies_sent_during_run: (await telegram.stats()).sent };
    }),
  );
  return {
    floor: medianFigures(rounds.map((r) => r.floor), COUNTS),
    grammy,
    skillgate,
    skillgate_intake_only: medianFigures(rounds.map((r) => r.skillgate_intake_only), COUNTS),
    intake_only_ratio: median(rounds.map((r) => r.ratio)),
    rounds,
  };
}

async function measure(ctx: BenchContext, driver: LoadDriver, url: string, child: BenchChild, body: (n: number) => string): Promise<IntakeFigures> {
  const { profile } = ctx;
  const load = { url, connections: profile.connections, headers: { 'x-telegram-bot-api-secret-token': BENCH_SECRET }, body };
  await driver.run({ ...load, seconds: profile.intakeWarmupSeconds });
  const cpuBefore = cpuMs(child.pid);
  const result = await driver.run({ ...load, seconds: profile.intakeSeconds });
  const cpu = cpuMs(child.pid) - cpuBefore;
  const figures = { ...result, rss_mb: rssMb(child.pid), cpu_us_per_req: round((cpu * 1000) / Math.max(1, result.total), 1) };
  if (!child.alive) throw new Error(`${child.name} died during the intake run:\n${child.tail}`);
  return figures;
}
