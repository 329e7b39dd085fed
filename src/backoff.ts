/**
 * "Full jitter" exponential backoff: a random wait between 0 and min(cap, base * 2^(attempt-1)).
 * Spreads the retries of many clients apart instead of synchronising them (Telegram, Discord,
 * the polling loop all use it).
 */
export function jitteredBackoff(attempt: number, baseMs: number, capMs: number): number {
  return Math.round(Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1)));
}
