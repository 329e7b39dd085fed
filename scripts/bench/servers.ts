import path from 'node:path';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway } from './gateway-process.js';
import { freePort } from './net.js';
import { BENCH_SECRET, BENCH_TOKEN } from './payload.js';
import type { BenchChild } from './processes.js';
import type { TargetOptions } from './targets/target-options.js';

export const WEBHOOK_PATH = '/telegram/webhook';
const IPC_TIMEOUT_MS = 5_000;

/** FakeTelegram in its own process (scripts/bench/targets/fake-telegram-server.ts), spoken to over IPC. */
export interface FakeTelegramProcess {
  child: BenchChild;
  apiBase: string;
  stats(): Promise<{ sent: number; calls: number }>;
  /** Counts sendMessage calls from now on. */
  mark(): Promise<void>;
  /** Resolves at the `n`-th sendMessage since the mark; rejects after `timeoutMs`. */
  until(n: number, timeoutMs: number): Promise<void>;
}

/** Runs `run` against a FakeTelegram process, stopped afterwards. */
export async function withFakeTelegram<T>(ctx: BenchContext, run: (telegram: FakeTelegramProcess) => Promise<T>): Promise<T> {
  const script = path.join(ctx.repoRoot, 'scripts/bench/targets/fake-telegram-server.ts');
  const child = ctx.procs.spawn('fake-telegram', process.execPath, ['--import', 'tsx', script, BENCH_TOKEN], {
    cwd: ctx.repoRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  try {
    const [, apiBase] = await child.waitForLine(/^LISTENING (\S+)$/m, 20_000);
    const ask = <R>(message: unknown, timeoutMs = IPC_TIMEOUT_MS) => askChild<R>(child, message, timeoutMs);
    return await run({
      child,
      apiBase: apiBase!,
      stats: () => ask<{ sent: number; calls: number }>('stats'),
      mark: () => ask<{ marked: number }>({ mark: true }).then(() => undefined),
      until: async (n, timeoutMs) => {
        const answer = await ask<{ reached?: number; timedOut?: number }>({ until: n, timeoutMs }, timeoutMs + IPC_TIMEOUT_MS);
        if (answer.reached === undefined) throw new Error(`fake-telegram saw ${answer.timedOut} of ${n} replies within ${timeoutMs} ms`);
      },
    });
  } finally {
    await child.stop();
  }
}

/** One request-answer over the child's IPC channel (the fake answers in order). */
function askChild<R>(child: BenchChild, message: unknown, timeoutMs: number): Promise<R> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} did not answer ${JSON.stringify(message)}`)), timeoutMs);
    child.process.once('message', (answer) => {
      clearTimeout(timer);
      resolve(answer as R);
    });
    child.process.send(message as object);
  });
}

/** A floor or grammY server in its own process for the duration of `run`. */
export async function withTarget<T>(
  ctx: BenchContext,
  script: string,
  run: (url: string, child: BenchChild) => Promise<T>,
  extra: Partial<TargetOptions> = {},
): Promise<T> {
  const options: TargetOptions = {
    port: await freePort(),
    certFile: ctx.tls.certFile,
    keyFile: ctx.tls.keyFile,
    path: WEBHOOK_PATH,
    secret: BENCH_SECRET,
    token: BENCH_TOKEN,
    ...extra,
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
 * `node dist/main.js` on a fresh DATA_DIR, answering through `telegram`. INBOX_MAX_PENDING is
 * raised so that the figures measure the work rather than the back-pressure limit (503) while a
 * backlog grows.
 */
export async function withSkillgate<T>(
  ctx: BenchContext,
  name: string,
  telegram: FakeTelegramProcess,
  run: (url: string, child: BenchChild) => Promise<T>,
): Promise<T> {
  const gateway = await startGateway(ctx.procs, await gatewaySpec(ctx, name, telegram.apiBase, { env: { INBOX_MAX_PENDING: '10000000' } }));
  try {
    return await run(gateway.webhookUrl, gateway.child);
  } finally {
    await gateway.child.stop();
  }
}
