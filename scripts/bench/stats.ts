import fs from 'node:fs';

export interface Percentiles {
  p50_ms: number;
  p99_ms: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function percentiles(samplesMs: readonly number[]): Percentiles & { mean_ms: number; n: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return { p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), mean_ms: round(mean), n: sorted.length };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/**
 * Runs `first` and `second` back to back `count` times, who goes first alternating (round 1:
 * `first`), so that neither side always runs on the warmer (or busier) machine. Returns each
 * round's pair in [first, second] order.
 */
export async function alternatingRounds<A, B>(count: number, first: (round: number) => Promise<A>, second: (round: number) => Promise<B>): Promise<Array<[A, B]>> {
  const rounds: Array<[A, B]> = [];
  for (let r = 1; r <= count; r++) {
    if (r % 2 === 1) {
      const a = await first(r);
      rounds.push([a, await second(r)]);
    } else {
      const b = await second(r);
      rounds.push([await first(r), b]);
    }
  }
  return rounds;
}

/** Each figure's median over `figures` (taken one by one: no single round's row); the `worst` keys (error counts) take the maximum. */
export function medianFigures<T extends object>(figures: readonly T[], worst: ReadonlyArray<keyof T> = []): T {
  const out: Record<string, number> = {};
  for (const key of Object.keys(figures[0]!) as Array<keyof T & string>) {
    const values = figures.map((f) => f[key] as number);
    out[key] = worst.includes(key) ? Math.max(...values) : median(values);
  }
  return out as T;
}

/** Rounds to `digits` decimals (results.json stays readable). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** VmRSS of one process in MB, or NaN when it is gone. Linux only (/proc). */
export function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024, 1) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in ms, or NaN when it is gone. Linux only (/proc). */
export function cpuMs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 12th, stime the 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ: 100 on every Linux the bench runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_S = 100;
