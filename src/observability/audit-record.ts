import type { AuditEntry } from './audit.js';

/** How an update ended, as the audit log says it. */
export type AuditOutcome = 'replied' | 'unauthorized' | 'ignored' | 'reply_rejected' | 'failed';

/** One audit line as the gateway builds it. */
export type AuditRecord = AuditEntry & { outcome: AuditOutcome };

/**
 * The one place an audit line is started, so the handler's lines and the inbox's "gave up"
 * lines carry the same fields with the same defaults.
 */
export function auditRecord(updateId: number, fields: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ts: new Date().toISOString(),
    update_id: updateId,
    chat_id: null,
    user_id: null,
    kind: 'other',
    skills: [],
    outcome: 'replied',
    duration_ms: 0,
    ...fields,
  };
}
