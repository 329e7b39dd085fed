import { loadSkillsConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRedactor } from '../../src/observability/redact.js';
import { SkillRuntime } from '../../src/skills/runtime.js';
import type { BenchContext } from './context.js';
import { percentiles, round, type Percentiles } from './stats.js';

export interface SkillResults {
  warm: Percentiles & { mean_ms: number; n: number };
  cold: Percentiles & { mean_ms: number; n: number };
  /** RSS of the warm host's process tree (the pre-imported Python), idle after the calls. */
  host_rss_mb: number;
}

/**
 * The trivial `ping` skill called N times in a row through SkillRuntime, the same code the
 * gateway uses: validation, concurrency slot, process per call, JSON over a pipe, limits. Warm
 * forks a pre-imported host; cold starts a fresh interpreter per call.
 */
export async function benchSkills(ctx: BenchContext): Promise<SkillResults> {
  ctx.progress(`skills: ${ctx.profile.skillCalls} warm calls`);
  const warm = await callRepeatedly(ctx, 'warm');
  ctx.progress(`skills: ${ctx.profile.skillCalls} cold calls`);
  const cold = await callRepeatedly(ctx, 'cold');
  return { warm: warm.latency, cold: cold.latency, host_rss_mb: warm.hostRssMb };
}

async function callRepeatedly(ctx: BenchContext, mode: 'warm' | 'cold') {
  const config = loadSkillsConfig({ SKILLS_DIR: ctx.dirs.skillsDir, WORKSPACE_DIR: ctx.dirs.workspaceDir, SKILL_MODE: mode }, ctx.repoRoot);
  const logger = createLogger({ level: 'error', redact: createRedactor([]), destination: process.stderr, pretty: false });
  const runtime = await SkillRuntime.create({ config, logger, env: ctx.baseEnv, watch: false });
  try {
    const samples: number[] = [];
    // One untimed call: the first fork pays for page faults the steady state does not.
    await expectPong(runtime);
    for (let i = 0; i < ctx.profile.skillCalls; i++) {
      const started = performance.now();
      await expectPong(runtime);
      samples.push(performance.now() - started);
    }
    const rss = runtime.hostRssBytes();
    return { latency: percentiles(samples), hostRssMb: rss === undefined ? Number.NaN : round(rss / 1024 / 1024, 1) };
  } finally {
    await runtime.close();
  }
}

async function expectPong(runtime: SkillRuntime): Promise<void> {
  const result = await runtime.run('ping', {});
  if (!result.ok || result.output.trim() !== 'pong') {
    throw new Error(`ping skill failed (${result.outcome}): ${result.output}`);
  }
}
