import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SkillResult } from './types.js';

/** The per-call trace line (CONTRACT section 6) and metrics; returns `result`. */
export function recordCall(result: SkillResult, args: unknown, transport: 'warm' | 'cold' | undefined, logger: Logger, metrics: Metrics | undefined): SkillResult {
  metrics?.skillRuns.inc({ skill: result.skill, outcome: result.outcome });
  if (result.pid !== undefined) metrics?.skillSeconds.observe({ skill: result.skill }, result.durationMs / 1000);
  const level = result.outcome === 'ok' ? 'info' : 'warn';
  logger[level](
    {
      skill: result.skill,
      args: argsForLog(args),
      pid: result.pid,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      outputBytes: Buffer.byteLength(result.output),
      truncated: result.truncated,
      outcome: result.outcome,
      via: transport,
    },
    `Skill executed: ${result.skill} (${result.outcome}, pid ${result.pid ?? '-'}, exit ${result.signal ?? result.exitCode ?? '-'}, ${result.durationMs} ms)`,
  );
  return result;
}

/** Arguments as logged: whole when small, else a preview (a 5 MB argument must not make a 5 MB line). */
export function argsForLog(args: unknown): unknown {
  const json = JSON.stringify(args) ?? '';
  return json.length <= LOGGED_ARGS_MAX_CHARS ? args : `${json.slice(0, LOGGED_ARGS_MAX_CHARS)}… (${json.length} chars)`;
}

const LOGGED_ARGS_MAX_CHARS = 2000;
