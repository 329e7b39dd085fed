import type { Logger } from '../observability/logger.js';
import { storeProblem, storeUnavailable } from './store-errors.js';
import type { StoreHealthState, StoreTroubleKind } from './store-health.js';

export interface StoreRecoveryOptions {
  file: string;
  health: StoreHealthState;
  logger: Logger;
  now: () => number;
  /** Between tries while in trouble. */
  probeIntervalMs: number;
  /** A tiny commit; a success clears write trouble (the commit hook calls health.recover). */
  probeCommit(): void;
  /** After a failed fsync: checkpoint, close, reopen, replay. Returns whether it worked. */
  reopen(): boolean;
}

/**
 * The store's way out of write trouble (disk full, read-only, a failed fsync).
 *
 * A failed commit rejects that turn's accepts (503) and puts the store in trouble (/readyz 503,
 * one alert) until a commit succeeds again; a timer probes with a tiny commit, so the store
 * recovers by itself once space is freed.
 *
 * A failed fsync is not retried (see WalFlusher.failure): its batch is answered 503, every accept
 * is refused, and the store reopens the database: a full checkpoint, which copies into the
 * database file what this connection reads and fsyncs it (or fails, and is tried again), then a
 * fresh connection and WAL. What the reopened file holds is then durable, and the dispatcher
 * replays it as at start-up (onReopen), so the rows of the failed batch run once and their
 * redelivery is a true duplicate; rows the kernel lost are simply new when Telegram redelivers.
 * A damaged file fails the reopen's quick_check and keeps the store unready with the fix named.
 */
export class StoreRecovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: StoreRecoveryOptions) {}

  /** Logs, marks the trouble, starts probing; returns the error to answer the accepts with. */
  enter(kind: StoreTroubleKind, err: Error): Error {
    const { health, logger, file } = this.options;
    const failure = storeUnavailable(file, err);
    if (kind === 'write') logger.error({ err }, "Inbox: commit failed; this turn's writes were rolled back");
    else if (health.kind !== 'fsync') logger.error({ err }, 'Inbox: fsync of the write-ahead log failed; refusing updates and reopening the store');
    health.fail(kind, kind === 'fsync' ? `fsync of the write-ahead log failed: ${err.message}` : failure.message, this.options.now());
    this.schedule(kind === 'fsync' ? 0 : this.options.probeIntervalMs);
    return failure;
  }

  /** The error for an accept while in trouble. */
  refusal(): Error {
    return storeProblem(this.options.file, this.options.health.current.reason ?? 'store in trouble');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tryOnce();
    }, delayMs);
  }

  private tryOnce(): void {
    const { health, logger } = this.options;
    if (this.stopped || !health.kind) return;
    if (health.kind === 'fsync') {
      if (this.options.reopen()) health.recover();
    } else {
      try {
        this.options.probeCommit();
      } catch (err) {
        logger.debug({ err }, 'Inbox: write probe failed');
      }
    }
    if (health.kind) this.schedule(this.options.probeIntervalMs);
  }
}
