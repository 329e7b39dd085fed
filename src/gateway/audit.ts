import type { AuditEntry } from '../observability/audit.js';
import { auditRecord, type AuditRecord } from '../observability/audit-record.js';
import type { Metrics } from '../observability/metrics.js';

export interface AuditSink {
  write(entry: AuditEntry): void;
}

/**
 * The audit stage: one update's line, filled in by the stages it passes, and its metrics.
 * Written once the update is final: a failed attempt is retried, and the dispatcher writes the
 * line for the attempt that gives up.
 */
export class UpdateAudit {
  readonly record: AuditRecord;
  private readonly started = performance.now();

  constructor(
    updateId: number,
    private readonly sink: AuditSink | undefined,
    private readonly metrics: Metrics | undefined,
  ) {
    this.record = auditRecord(updateId);
  }

  /** This attempt threw: retried unless it was a refusal that retrying cannot change. */
  failed(outcome: 'failed' | 'reply_rejected', err: unknown): void {
    this.record.outcome = outcome;
    this.record.error = (err as Error).message;
  }

  finish(): void {
    const seconds = (performance.now() - this.started) / 1000;
    this.record.duration_ms = Math.round(seconds * 1000);
    this.metrics?.processingSeconds.observe(seconds);
    this.metrics?.updates.inc({ outcome: this.record.outcome === 'replied' ? 'processed' : this.record.outcome });
    if (this.record.outcome !== 'failed') this.sink?.write(this.record);
  }
}
