import type { AcceptResult, InboxStats, OpenUpdate } from './types.js';
import type { StoreHealth } from './store-health.js';

type Awaitable<T> = T | Promise<T>;

/**
 * What begin() hands the handler run: the payload as stored (or as intake parsed it, when this
 * process still holds that: ParsedPayloads), and which run this is.
 */
export type Claim = { payloadJson: string; payload?: undefined; attempts: number } | { payload: object; payloadJson?: undefined; attempts: number };

/** The claimed update's payload, parsed (throws SyntaxError for a stored payload that is not JSON). */
export function claimedPayload(claim: Claim): unknown {
  return claim.payload ?? JSON.parse(claim.payloadJson);
}

/**
 * The durable inbox as the gateway uses it, with two implementations: InboxStore (SQLite in
 * DATA_DIR, one process) and PgInboxStore (PostgreSQL, shared by several replicas). Reads and
 * claims are synchronous on SQLite and return promises on PostgreSQL; callers await them
 * only when they are promises, so the embedded store pays nothing for the second one.
 *
 * The guarantees both give: accept() resolves 'accepted' only once the update is durable;
 * an update_id seen within the dedupe window is a 'duplicate'; a chat's updates are handed to one
 * dispatcher at a time (the only one, or the replica that owns the chat), in update_id order; a
 * claim is committed before begin() returns, so after a crash only claimed, unmarked updates can
 * be sent twice.
 */
export interface UpdateStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the state lives, for log lines and /readyz: a file, or postgres://user@host:port/db (no password). */
  readonly location: string;
  readonly isOpen: boolean;
  /** `payload`: the same update as intake parsed it; a store may keep it for the first claim instead of parsing payloadJson again. */
  accept(updateId: number, chatId: number | null, payloadJson: string | null, payload?: object): Promise<AcceptResult>;
  /** New runnable updates for this process's dispatcher, as soon as they are durable. Returns the unsubscribe function. */
  onDurable(listener: (rows: OpenUpdate[]) => void): () => void;
  /** The store may hold work nobody pushed (a reopen, a reconnect): the dispatcher should read it all back. */
  onReopen(listener: () => void): () => void;
  writeHealth(): StoreHealth;
  oldestUnclaimedAgeMs(): number | undefined;
  pendingCount(): number;
  stats(): InboxStats;
  /** Open, durable updates this process may run, inserted after `afterSeq`, in insertion order. */
  openSince(afterSeq: number, limit?: number): Awaitable<OpenUpdate[]>;
  /** Claims an update for a run; undefined when it is no longer runnable here (finished, or its chat moved). */
  begin(updateId: number): Awaitable<Claim | undefined>;
  /** Resolves once every write made so far is committed. */
  committed(): Promise<void>;
  markReplied(updateId: number): Awaitable<void>;
  markDone(updateId: number): Awaitable<void>;
  markFailed(updateId: number, error: string): Awaitable<void>;
  scheduleRetry(updateId: number, nextAttemptAt: number, error: string): Awaitable<void>;
  getMeta(key: string): Awaitable<string | undefined>;
  setMeta(key: string, value: string): Awaitable<void>;
  /** Settles every accept() and closes; idempotent. */
  close(): Awaitable<void>;
}

/** Whether a store answered with a promise (PostgreSQL); callers await only then, so a synchronous answer (SQLite) costs no microtask hop. */
export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}
