import type { SkillRunner } from './types.js';

export interface LatencyReport {
  calls: number;
  failures: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
}

/**
 * Calls `name` `calls` times in a row (after `warmup` untimed calls) and reports latency
 * percentiles; for `npm run bench` and `npm run skills -- bench`, never for a test assertion.
 */
export async function measureSkillLatency(
  runner: SkillRunner,
  name: string,
  args: unknown,
  options: { calls: number; warmup?: number },
): Promise<LatencyReport> {
  for (let i = 0; i < (options.warmup ?? 3); i++) await runner.run(name, args);
  const samples: number[] = [];
  let failures = 0;
  for (let i = 0; i < options.calls; i++) {
    const t0 = performance.now();
    const result = await runner.run(name, args);
    samples.push(performance.now() - t0);
    if (!result.ok) failures++;
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    calls: samples.length,
    failures,
    p50_ms: round(at(0.5)),
    p99_ms: round(at(0.99)),
    mean_ms: round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
  };
}
