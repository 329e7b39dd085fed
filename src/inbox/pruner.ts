import type { Logger } from '../observability/logger.js';
import type { Connection } from './connection.js';

const HOUR_MS = 3_600_000;

export interface PrunerOptions {
  logger: Logger;
  now: () => number;
  /** How long a finished update id is remembered for dedupe. Default 25 h (Telegram retries for 24 h). */
  dedupeWindowMs?: number;
  /** How long failed updates are kept for inspection. Default 7 days. */
  failedRetentionMs?: number;
  /** How often pruning runs. Default 1 h; 0 turns the timer off (call prune() yourself). */
  pruneIntervalMs?: number;
  /** Runs the deletes inside the store's current transaction. */
  write<T>(statements: (s: Connection['statements']) => T): T;
}

/**
 * Forgets done ids older than the dedupe window and failures past their retention, on a timer
 * (unref'd: it never keeps the process alive). A failed run is logged and tried at the next tick.
 */
/** Telegram re-delivers for up to 24 hours: done ids are remembered a little longer. */
export const DEFAULT_DEDUPE_WINDOW_MS = 25 * HOUR_MS;
export const DEFAULT_FAILED_RETENTION_MS = 7 * 24 * HOUR_MS;

export class InboxPruner {
  private readonly dedupeWindowMs: number;
  private readonly failedRetentionMs: number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PrunerOptions) {
    this.dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
    this.failedRetentionMs = options.failedRetentionMs ?? DEFAULT_FAILED_RETENTION_MS;
    const every = options.pruneIntervalMs ?? HOUR_MS;
    if (every > 0) this.timer = setInterval(() => this.pruneQuietly(), every).unref();
  }

  /** Deletes what is past its window; returns how many rows went. */
  prune(): number {
    const now = this.options.now();
    const { done, failed } = this.options.write((s) => ({
      done: s.pruneDone.run(now - this.dedupeWindowMs).changes,
      failed: s.pruneFailed.run(now - this.failedRetentionMs).changes,
    }));
    if (done + failed > 0) this.options.logger.debug({ done, failed }, 'Inbox pruned');
    return done + failed;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private pruneQuietly(): void {
    try {
      this.prune();
    } catch (err) {
      this.options.logger.warn({ err }, 'Inbox pruning failed; will try again');
    }
  }
}
