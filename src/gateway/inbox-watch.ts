import type { Alerter } from '../alerts/alerter.js';
import type { StoreHealth } from '../inbox/store.js';
import type { UpdateStore } from '../inbox/update-store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

export interface InboxWatchOptions {
  store: Pick<UpdateStore, 'oldestUnclaimedAgeMs' | 'writeHealth'>;
  alerter: Alerter;
  logger: Logger;
  metrics?: Metrics;
  /**
   * Age of the oldest accepted, never claimed update past which one alert is raised. Default 60 s:
   * far above what a healthy gateway shows (milliseconds, seconds in a burst), below the minutes
   * after which a user gives up; a long backlog behind Telegram's 1 message/s per chat shows too.
   */
  stallThresholdMs?: number;
  /** How often the age is read for the gauge and the alert. Default 5 s. */
  intervalMs?: number;
}

/**
 * Keeps the inbox impossible to miss in operation: a gauge and an alert for the oldest update that
 * was acked and never claimed (issue 18: acked rows that sat unseen until a restart), and one alert
 * when the store cannot write (disk full, read-only, failed fsync), with /readyz detail from both.
 * Each alert fires once per episode and re-arms after it is over.
 */
export class InboxWatch {
  private readonly threshold: number;
  private timer: NodeJS.Timeout | undefined;
  private stallAlerted = false;

  constructor(private readonly options: InboxWatchOptions) {
    this.threshold = options.stallThresholdMs ?? 60_000;
    options.metrics?.inboxWritable.set(1);
    options.metrics?.inboxOldestUnclaimed.set(0);
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), this.options.intervalMs ?? 5_000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** For /readyz detail. */
  detail(): { oldest_unclaimed_s: number; stall_threshold_s: number; writable: boolean } {
    return {
      oldest_unclaimed_s: this.oldestSeconds(),
      stall_threshold_s: this.threshold / 1000,
      writable: this.options.store.writeHealth().writable,
    };
  }

  /** A reason for /readyz while the store cannot write, else undefined. */
  notReadyReason(): string | undefined {
    const health = this.options.store.writeHealth();
    return health.writable ? undefined : `store cannot write: ${health.reason ?? 'unknown'}`;
  }

  /** Wired to the store's onHealthChange. */
  storeHealthChanged(health: StoreHealth): void {
    const { alerter, logger, metrics } = this.options;
    metrics?.inboxWritable.set(health.writable ? 1 : 0);
    if (health.writable) {
      logger.info('Inbox store writes again; accepting updates');
      return;
    }
    logger.error({ reason: health.reason }, 'Inbox store cannot write; updates get 503 (Telegram retries them) until it can');
    alerter.alert(`Inbox store cannot write: ${health.reason}. Updates get 503 and Telegram retries them; the gateway resumes by itself once the store writes again.`, {
      key: 'inbox-store-unwritable',
    });
  }

  /** Reads the age once: gauge, alert. */
  check(): void {
    const seconds = this.oldestSeconds();
    this.options.metrics?.inboxOldestUnclaimed.set(seconds);
    const limit = this.threshold / 1000;
    if (seconds > limit && !this.stallAlerted) {
      this.stallAlerted = true;
      this.options.logger.error({ oldestUnclaimedS: seconds }, 'Inbox: an acked update has waited past the stall threshold without being handled');
      this.options.alerter.alert(
        `Inbox stalled or badly delayed: the oldest acked update has waited ${Math.round(seconds)} s without being handled (threshold ${limit} s)`,
        { key: 'inbox-stalled' },
      );
    } else if (seconds <= limit / 2) {
      this.stallAlerted = false;
    }
  }

  private oldestSeconds(): number {
    try {
      return Math.round((this.options.store.oldestUnclaimedAgeMs() ?? 0) / 100) / 10;
    } catch {
      return 0; // store closed or reopening: nothing to read now
    }
  }
}
