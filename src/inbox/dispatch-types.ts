import type { Alerter } from '../alerts/alerter.js';
import type { AuditEntry } from '../observability/audit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Redactor } from '../observability/redact.js';
import type { UpdateStore } from './update-store.js';

/** One stored update, handed to the handler. */
export interface InboxUpdate {
  updateId: number;
  chatId: number | null;
  /** The update as Telegram sent it (parsed JSON). */
  payload: unknown;
  /** 1 on the first run, 2 on the first retry, ... (survives restarts). */
  attempts: number;
}

export interface ReplyJournal {
  /** Call right after the reply went out: from then on a replay or retry will not send it again. */
  markReplied(): void;
}

export type UpdateHandler = (update: InboxUpdate, journal: ReplyJournal) => Promise<void>;

export type DispatchStore = Pick<UpdateStore, 'openSince' | 'begin' | 'markReplied' | 'markDone' | 'markFailed' | 'scheduleRetry'> &
  Partial<Pick<UpdateStore, 'onDurable' | 'onReopen' | 'writeHealth' | 'committed' | 'isOpen'>>;

export interface InboxDispatcherOptions {
  store: DispatchStore;
  handler: UpdateHandler;
  /** Chats processed in parallel (CHAT_CONCURRENCY). */
  concurrency: number;
  logger: Logger;
  metrics?: Metrics;
  /** Told when an update is given up on. Default: none. */
  alerter?: Alerter;
  /** Gets one line per update given up on. Default: none. */
  audit?: { write(entry: AuditEntry): void };
  /** Applied to error text before it is stored, alerted or audited. Default: identity. */
  redact?: Redactor;
  /** Runs per update, including the first. Default 5. */
  maxAttempts?: number;
  /** Delay before retry number `attempt` (1-based). Default 1 s doubling to 30 s, +-25% jitter. */
  backoff?: (attempt: number) => number;
  /** Safety-net rescan of the store for work nobody notified about. Default 1000 ms; 0 turns it off. */
  rescanIntervalMs?: number;
}
