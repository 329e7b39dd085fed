import type { Alerter } from '../alerts/alerter.js';

/**
 * Counts messages from senders outside the allowlist and raises one alert per window once they
 * repeat: one stray message is noise, a stranger who keeps trying is worth a look.
 */
export class UnauthorizedTracker {
  private readonly attempts = new Map<number, { first: number; count: number; alerted: boolean }>();

  constructor(
    private readonly alerter: Alerter,
    private readonly options: { threshold?: number; windowMs?: number; now?: () => number } = {},
  ) {}

  record(userId: number): void {
    const now = (this.options.now ?? Date.now)();
    const windowMs = this.options.windowMs ?? 10 * 60_000;
    const threshold = this.options.threshold ?? 3;
    let entry = this.attempts.get(userId);
    if (!entry || now - entry.first > windowMs) {
      entry = { first: now, count: 0, alerted: false };
      this.attempts.set(userId, entry);
    }
    entry.count++;
    if (entry.count >= threshold && !entry.alerted) {
      entry.alerted = true;
      this.alerter.alert(
        `Repeated unauthorized messages: user_id ${userId} sent ${entry.count} messages in ${Math.round(windowMs / 60_000)} min (not in TELEGRAM_ALLOWED_USER_IDS).`,
        { key: `unauthorized:${userId}` },
      );
    }
    if (this.attempts.size > 10_000) this.forgetOlderThan(now - windowMs);
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [id, entry] of this.attempts) if (entry.first < cutoff) this.attempts.delete(id);
  }
}
