import type { AuditRecord } from '../observability/audit-record.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ALLOWED_UPDATES } from '../telegram/allowed-updates.js';
import { UpdateAudit, type AuditSink } from './audit.js';

/**
 * True when the update carries none of the types the handler acts on (ALLOWED_UPDATES: message,
 * callback_query): an edit, a channel post, a reaction... It gets nothing whoever sent it (the
 * handler never looks at its sender), so the webhook can decide it at intake instead of queueing
 * it for the dispatcher. A malformed message or callback is not decided here: the handler sees it.
 */
export function isUnhandledType(update: unknown): boolean {
  if (typeof update !== 'object' || update === null) return false;
  const fields = update as Record<string, unknown>;
  return ALLOWED_UPDATES.every((type) => fields[type] === undefined);
}

/** What the gateway records for an update it deliberately ignores: the one place for the handler and intake. */
export function recordUnhandled(record: AuditRecord, logger: Logger): void {
  record.outcome = 'ignored';
  logger.debug({ updateId: record.update_id }, 'Update type ignored');
}

/**
 * Intake's half: once the update is stored (done), the same audit line, log line and metrics the
 * handler writes for it (UpdateAudit: updates{outcome="ignored"}, the processing histogram).
 */
export function unhandledAtIntake(sink: AuditSink | undefined, metrics: Metrics | undefined, logger: Logger): (updateId: number) => void {
  return (updateId) => {
    const audit = new UpdateAudit(updateId, sink, metrics);
    recordUnhandled(audit.record, logger);
    audit.finish();
  };
}
