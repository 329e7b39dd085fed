/** The inbox's record types, shared by the store, its commit scheduler and the dispatcher. */
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PrunerOptions } from './pruner.js';
import type { StoreHealth } from './store-health.js';

export type AcceptResult = 'accepted' | 'duplicate' | 'full';

/** accepted -> processing -> replied -> done, or back to accepted for a retry, or failed. */
export type UpdateState = 'accepted' | 'processing' | 'replied' | 'done' | 'failed';

/** An unfinished update as the dispatcher schedules it (no payload: it may be large). */
export interface OpenUpdate {
  /** Insertion order, which is commit order too (InboxStore's class comment); the dispatcher tracks the rows it holds by it. */
  seq: number;
  updateId: number;
  chatId: number | null;
  state: Exclude<UpdateState, 'done' | 'failed'>;
  attempts: number;
  /** Epoch ms before which a retry must not start (0: now). */
  nextAttemptAt: number;
}

export interface FailedUpdate {
  updateId: number;
  chatId: number | null;
  attempts: number;
  error: string | null;
  finishedAt: number;
}

export interface InboxStats {
  pending: number;
  failed: number;
  recentFailures: FailedUpdate[];
  acceptTransactions: number;
  /** fsync(2) calls of the WAL so far; with group commit far fewer than accept transactions under load. */
  walFsyncs: number;
}

/** One accept() waiting for its group commit. */
export interface PendingAccept {
  updateId: number;
  chatId: number | null;
  /** null: decided at intake (nothing to run), stored done with its id only (InboxStore.accept with payloadJson null). */
  payloadJson: string | null;
  /** The same payload as intake parsed it, when it did: kept for the first claim (ParsedPayloads). */
  payload?: object;
  resolve: (result: AcceptResult) => void;
  reject: (err: unknown) => void;
}

/** One group commit's outcome: a result per accept() call, and the rows it inserted. */
export interface InsertedBatch {
  results: AcceptResult[];
  rows: OpenUpdate[];
}

/** Pruning: dedupeWindowMs, failedRetentionMs, pruneIntervalMs (see PrunerOptions). */
export interface InboxStoreOptions extends Partial<Pick<PrunerOptions, 'dedupeWindowMs' | 'failedRetentionMs' | 'pruneIntervalMs'>> {
  /** DATA_DIR; created when missing. The database is DATA_DIR/inbox.sqlite. */
  dataDir: string;
  logger: Logger;
  /** Unfinished updates at which accept() answers 'full' (the webhook answers 503). Default 20000. */
  maxPending?: number;
  metrics?: Metrics;
  /** Clock (tests of retention). Default Date.now. */
  now?: () => number;
  /** Told when the store stops or starts being able to write (readiness, alerts). */
  onHealthChange?: (health: StoreHealth) => void;
  /** While in write trouble, how often a probe commit (or a reopen after a failed fsync) is tried. Default 1000 ms. */
  probeIntervalMs?: number;
}
