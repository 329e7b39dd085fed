import path from 'node:path';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway } from './gateway-process.js';
import { LoadDriver, type LoadResult } from './load.js';
import { freePort } from './net.js';
import { BASE_USER_ID, BENCH_SECRET, BENCH_TOKEN, telegramUpdate } from './payload.js';
import type { BenchChild } from './processes.js';
import { rssMb } from './stats.js';
import type { TargetOptions } from './targets/target-options.js';

const WEBHOOK_PATH = '/telegram/webhook';
/** A greeting no skill matches: the rule router answers with the help text, no Python runs. */
const INTAKE_TEXT = 'Hello! What can you do for me today?';
const CHATS = 100;

export interface IntakeFigures extends LoadResult {
  rss_mb: number;
}

export interface IntakeResults {
  floor: IntakeFigures;
  grammy: IntakeFigures;
  /** Real text messages: stored, acked, then routed and answered by the dispatcher meanwhile. */
  skillgate: IntakeFigures & { replies_sent_during_run: number };
  /** Edits: stored and acked, then dropped by the handler: the cost of intake alone. */
  skillgate_intake_only: IntakeFigures;
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

  ctx.progress('intake: floor (bare Fastify HTTPS)');
  const floor = await withTarget(ctx, 'floor-server.ts', (url, child) => measure(ctx, driver, url, child, messageBody('message')));
  ctx.progress('intake: grammY webhookCallback');
  const grammy = await withTarget(ctx, 'grammy-server.ts', (url, child) => measure(ctx, driver, url, child, messageBody('message')));
  ctx.progress('intake: skillgate, text messages (dispatcher answering meanwhile)');
  const skillgate = await withSkillgate(ctx, 'intake-messages', async (url, child, telegram) => {
    const figures = await measure(ctx, driver, url, child, messageBody('message'));
    return { ...figures, replies_sent_during_run: (await telegramStats(telegram)).sent };
  });
  ctx.progress('intake: skillgate, edits only (stored and ignored)');
  const intakeOnly = await withSkillgate(ctx, 'intake-edits', (url, child) => measure(ctx, driver, url, child, messageBody('edited_message')));
  return { floor, grammy, skillgate, skillgate_intake_only: intakeOnly };
}

async function measure(ctx: BenchContext, driver: LoadDriver, url: string, child: BenchChild, body: (n: number) => string): Promise<IntakeFigures> {
  const { profile } = ctx;
  const load = { url, connections: profile.connections, headers: { 'x-telegram-bot-api-secret-token': BENCH_SECRET }, body };
  await driver.run({ ...load, seconds: profile.intakeWarmupSeconds });
  const result = await driver.run({ ...load, seconds: profile.intakeSeconds });
  const figures = { ...result, rss_mb: rssMb(child.pid) };
  if (!child.alive) throw new Error(`${child.name} died during the intake run:\n${child.tail}`);
  return figures;
}

/** A floor or grammY server in its own process for the duration of `run`. */
async function withTarget<T>(ctx: BenchContext, script: string, run: (url: string, child: BenchChild) => Promise<T>): Promise<T> {
  const options: TargetOptions = {
    port: await freePort(),
    certFile: ctx.tls.certFile,
    keyFile: ctx.tls.keyFile,
    path: WEBHOOK_PATH,
    secret: BENCH_SECRET,
    token: BENCH_TOKEN,
  };
  const child = ctx.procs.spawn(script, process.execPath, ['--import', 'tsx', path.join(ctx.repoRoot, 'scripts/bench/targets', script), JSON.stringify(options)], {
    cwd: ctx.repoRoot,
  });
  try {
    await child.waitForLine(/^LISTENING \d+$/m, 20_000);
    return await run(`https://127.0.0.1:${options.port}${WEBHOOK_PATH}`, child);
  } finally {
    await child.stop();
  }
}

/**
 * `node dist/main.js` on a fresh DATA_DIR, answering through a FakeTelegram in its own process
 * (so the replies do not steal CPU from autocannon). INBOX_MAX_PENDING is raised so that the
 * figure measures intake rather than the back-pressure limit (503) while the backlog grows.
 */
async function withSkillgate<T>(
  ctx: BenchContext,
  name: string,
  run: (url: string, child: BenchChild, telegram: BenchChild) => Promise<T>,
): Promise<T> {
  const telegram = ctx.procs.spawn('fake-telegram', process.execPath, ['--import', 'tsx', path.join(ctx.repoRoot, 'scripts/bench/targets/fake-telegram-server.ts'), BENCH_TOKEN], {
    cwd: ctx.repoRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  try {
    const [, apiBase] = await telegram.waitForLine(/^LISTENING (\S+)$/m, 20_000);
    const gateway = await startGateway(ctx.procs, await gatewaySpec(ctx, name, apiBase!, { env: { INBOX_MAX_PENDING: '10000000' } }));
    try {
      return await run(gateway.webhookUrl, gateway.child, telegram);
    } finally {
      await gateway.child.stop();
    }
  } finally {
    await telegram.stop();
  }
}

function telegramStats(telegram: BenchChild): Promise<{ sent: number; calls: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fake-telegram did not answer stats')), 5000);
    telegram.process.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as { sent: number; calls: number });
    });
    telegram.process.send('stats');
  });
}
