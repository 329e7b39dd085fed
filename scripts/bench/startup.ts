import { FakeTelegram } from '../../fakes/telegram.js';
import { treeRssBytes } from '../../src/skills/process-memory.js';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway } from './gateway-process.js';
import { sleep } from './net.js';
import { BENCH_TOKEN } from './payload.js';
import { median, round, rssMb } from './stats.js';

export interface StartupResults {
  /** Median of the runs: process spawn until the admin /readyz answers 200. */
  startup_ms: number;
  runs_ms: number[];
  /** Gateway (node) RSS a moment after ready, nothing received yet. */
  rss_idle_mb: number;
  /** The same plus its children (the warm Python skill host). */
  rss_idle_tree_mb: number;
}

/** How long idle means: long enough for start-up garbage to be collected or at least settle. */
const IDLE_SETTLE_MS = 1000;

/** Spawn-to-ready of `node dist/main.js` on a fresh DATA_DIR, and its idle memory. */
export async function benchStartup(ctx: BenchContext): Promise<StartupResults> {
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  const runs: number[] = [];
  let rssIdle = Number.NaN;
  let rssTree = Number.NaN;
  try {
    for (let i = 0; i < ctx.profile.startupRuns; i++) {
      ctx.progress(`startup: run ${i + 1} of ${ctx.profile.startupRuns}`);
      const gateway = await startGateway(ctx.procs, await gatewaySpec(ctx, `startup-${i}`, telegram.apiBase));
      try {
        runs.push(Math.round(gateway.readyMs));
        if (i === 0) {
          await sleep(IDLE_SETTLE_MS);
          rssIdle = rssMb(gateway.child.pid);
          rssTree = round((treeRssBytes(gateway.child.pid) ?? Number.NaN) / 1024 / 1024, 1);
        }
      } finally {
        await gateway.child.stop();
      }
    }
  } finally {
    await telegram.close();
  }
  return { startup_ms: median(runs), runs_ms: runs, rss_idle_mb: rssIdle, rss_idle_tree_mb: rssTree };
}
