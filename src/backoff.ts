/**
 * The one backoff formula: the step for retry number `attempt` (1-based) is base * 2^(attempt-1),
 * capped. Every retry loop (Telegram, Discord, polling, the inbox) derives its wait from it.
 */
export function exponentialStep(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** (attempt - 1));
}

/**
 * "Full jitter": a random wait between 0 and the step. Spreads the retries of many clients
 * apart instead of synchronising them (Telegram, Discord, the polling loop all use it).
 */
export function jitteredBackoff(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.round(random() * exponentialStep(attempt, baseMs, capMs));
}

/**
 * The step give or take `spread` (0.25: 75% to 125%): a retry that should come about when the
 * step says (the inbox's own retries), yet not in lockstep with its neighbours.
 */
export function spreadBackoff(attempt: number, baseMs: number, capMs: number, spread = 0.25, random: () => number = Math.random): number {
  return Math.round(exponentialStep(attempt, baseMs, capMs) * (1 - spread + random() * 2 * spread));
}
