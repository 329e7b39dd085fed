import type { Metrics } from '../observability/metrics.js';

/**
 * The number of unfinished updates, kept in memory (a COUNT(*) per update would cost a scan) and
 * published as the inbox_pending gauge on every change.
 */
export class PendingGauge {
  private count = 0;

  constructor(private readonly metrics: Metrics | undefined) {}

  get value(): number {
    return this.count;
  }

  /** After opening (or reopening) the database: what it holds. */
  reset(count: number): void {
    this.count = count;
    this.publish();
  }

  add(n: number): void {
    if (n === 0) return;
    this.count += n;
    this.publish();
  }

  /** `n` updates finished (done or failed). */
  finished(n: number): void {
    if (n === 0) return;
    this.count = Math.max(0, this.count - n);
    this.publish();
  }

  private publish(): void {
    this.metrics?.inboxPending.set(this.count);
  }
}
