import { setTimeout as sleep } from 'node:timers/promises';
import type { Alerter } from '../alerts/alerter.js';
import type { AuditEntry } from '../observability/audit.js';
import { auditRecord } from '../observability/audit-record.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Redactor } from '../observability/redact.js';
import { Lanes, type Lane } from './lanes.js';
import type { InboxStore, OpenUpdate } from './store.js';

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

export type DispatchStore = Pick<InboxStore, 'openSince' | 'begin' | 'markReplied' | 'markDone' | 'markFailed' | 'scheduleRetry'> &
  Partial<Pick<InboxStore, 'onDurable' | 'onReopen' | 'writeHealth'>>;

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

/** Retries a store write that failed (disk trouble) after this long, keeping the lane's order. */
const STORE_TROUBLE_RETRY_MS = 1_000;

export function defaultBackoff(attempt: number): number {
  const base = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Runs stored updates through the handler: one at a time per chat in update_id order, chats in
 * parallel up to `concurrency`, resuming whatever a previous process left unfinished.
 *
 * A failing update keeps its chat waiting while it is retried (Telegram order matters: answering
 * message 2 before message 1 confuses the user), but only for `maxAttempts` runs with backoff
 * (about 15 s with the defaults); then it is marked failed, alerted and audited, and the chat
 * moves on, so a poisoned update cannot block its chat for ever. Other chats never wait for it.
 *
 * Invariant (issue 18): every open, durable row of the store is either held here (queued in a lane
 * or running; `held` has its seq) or found by the next rescan. There is no cursor: a row pushed
 * late, below rows already seen (fsyncs completing out of order, a batch whose first ack failed,
 * a replay after a reopen), is queued like any other, and the rescan reads every open durable
 * row, not only those past some high-water mark, so a row nobody pushed is found within one
 * rescan interval (and counted and logged: it means a push was missed). A row leaves `held` only
 * once its final state is written or it turned out to be finished already.
 */
export class InboxDispatcher {
  private readonly lanes = new Lanes();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly redact: Redactor;
  /** seq of every row queued in a lane or running. */
  private readonly held = new Set<number>();
  private active = 0;
  private started = false;
  private stopping = false;
  private loadScheduled = false;
  private replayPending = false;
  private rescanTimer: NodeJS.Timeout | undefined;
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly options: InboxDispatcherOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError('InboxDispatcher: concurrency must be an integer >= 1 (CHAT_CONCURRENCY)');
    }
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoff = options.backoff ?? defaultBackoff;
    this.redact = options.redact ?? ((text) => text);
  }

  /** Resumes everything unfinished (crash replay), then keeps going as notify() brings more. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // New updates arrive pushed by the store; load() (notify, rescan) is the safety net.
    const { store } = this.options;
    const offDurable = store.onDurable?.((rows) => this.take(rows));
    const offReopen = store.onReopen?.(() => this.notify('replay'));
    this.unsubscribe = [offDurable, offReopen].filter((off) => off !== undefined);
    const resumed = this.load();
    if (resumed > 0) this.options.logger.info({ updates: resumed }, 'Inbox: resuming unfinished updates from the last run');
    this.pump();
    const every = this.options.rescanIntervalMs ?? 1_000;
    if (every > 0) this.rescanTimer = setInterval(() => this.notify(), every).unref();
  }

  /** New updates were committed (or the store was reopened): look for them on the next turn. */
  notify(why: 'rescan' | 'replay' = 'rescan'): void {
    if (!this.started || this.stopping) return;
    if (why === 'replay') this.replayPending = true;
    if (this.loadScheduled) return;
    this.loadScheduled = true;
    setImmediate(() => {
      this.loadScheduled = false;
      if (this.stopping) return;
      const replay = this.replayPending;
      this.replayPending = false;
      const found = this.load();
      if (found > 0 && replay) this.options.logger.info({ updates: found }, 'Inbox: replaying unfinished updates after the store was reopened');
      else if (found > 0) {
        this.options.metrics?.inboxRescued.inc(found);
        this.options.logger.warn({ updates: found }, 'Inbox: rescan found updates that were never handed over; queued them now');
      }
      this.pump();
    });
  }

  /** Updates being handled right now. */
  get activeCount(): number {
    return this.active;
  }

  /**
   * Takes no new work, waits up to `graceMs` for running handlers, and returns. Whatever did not
   * finish stays in the store (processing or accepted) and runs again at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const off of this.unsubscribe) off();
    clearInterval(this.rescanTimer);
    this.lanes.clearTimers();
    await this.settle(graceMs);
    if (this.inFlight.size > 0) {
      this.options.logger.warn(
        { running: this.inFlight.size, graceMs },
        'Inbox: updates still running after the shutdown grace period; they stay in the store and run again at the next start',
      );
    }
  }

  /**
   * Waits up to `ms` for the handlers still running to settle. Also used after `stop`, once
   * shutdown has cancelled their work, so their last store writes land before the store closes.
   */
  async settle(ms: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    const timer = new AbortController();
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(ms, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
  }

  /**
   * Reads every open, durable row and queues those not held. Returns how many were queued.
   * Skipped while the store cannot write: a failed commit rolled back that turn's marks, so rows
   * finished here may read as open until the store writes again.
   */
  private load(): number {
    const { store, logger } = this.options;
    if (store.writeHealth?.().writable === false) return 0;
    let queued = 0;
    let after = 0;
    for (;;) {
      let rows: OpenUpdate[];
      try {
        rows = store.openSince(after, 1000);
      } catch (err) {
        logger.error({ err }, 'Inbox: could not read the store; will try again');
        return queued;
      }
      for (const row of rows) {
        after = row.seq;
        if (this.held.has(row.seq)) continue;
        // Not held and replied: its reply went out before a restart (or its done mark was lost).
        if (row.state === 'replied') this.finishReplayedReply(row);
        else if (this.hold(row)) queued++;
      }
      if (rows.length < 1000) return queued;
    }
  }

  /** Newly durable updates pushed by the store (in rising seq, but nothing here relies on it). */
  private take(rows: OpenUpdate[]): void {
    if (this.stopping) return;
    for (const row of rows) this.hold(row);
    this.pump();
  }

  /** Queues `row` unless it is held already. */
  private hold(row: OpenUpdate): boolean {
    if (this.held.has(row.seq)) return false;
    this.held.add(row.seq);
    this.lanes.add(row);
    return true;
  }

  /** The lane's head is finished (or was finished already): it leaves the lane and `held`. */
  private drop(lane: Lane): void {
    const row = lane.queue.shift();
    if (row) this.held.delete(row.seq);
  }

  /** The reply went out before the last crash: finishing it must not send it again. */
  private finishReplayedReply(row: OpenUpdate): void {
    this.options.logger.info({ updateId: row.updateId }, 'Inbox: update was already replied to before the restart; marking it done without running it again');
    this.options.metrics?.updates.inc({ outcome: 'replay_already_replied' });
    this.storeWrite('mark done', () => this.options.store.markDone(row.updateId));
  }

  private pump(): void {
    while (!this.stopping && this.active < this.options.concurrency) {
      const lane = this.lanes.takeReady();
      if (!lane) return;
      const head = lane.queue[0]!;
      const wait = head.nextAttemptAt - Date.now();
      if (wait > 0) {
        this.lanes.park(lane, wait, () => this.pump());
        continue;
      }
      this.run(lane, head);
    }
  }

  private run(lane: Lane, head: OpenUpdate): void {
    lane.running = true;
    this.active++;
    const job = this.process(lane, head)
      .catch((err) => this.options.logger.error({ err, updateId: head.updateId }, 'Inbox: unexpected dispatcher error'))
      .finally(() => {
        this.active--;
        this.inFlight.delete(job);
        this.lanes.release(lane);
        this.pump();
      });
    this.inFlight.add(job);
  }

  private async process(lane: Lane, item: OpenUpdate): Promise<void> {
    const { store, logger } = this.options;
    let claimed: { payloadJson: string; attempts: number } | undefined;
    try {
      claimed = store.begin(item.updateId);
    } catch (err) {
      logger.error({ err, updateId: item.updateId }, 'Inbox: could not claim an update; will try again');
      item.nextAttemptAt = Date.now() + STORE_TROUBLE_RETRY_MS;
      return;
    }
    if (!claimed) {
      this.drop(lane); // finished meanwhile (or pruned): nothing to run
      return;
    }
    const attempts = claimed.attempts;
    if (attempts > this.maxAttempts) {
      // Earlier attempts never finished: the process died while handling this update each time.
      // Running it again would crash again, so it is set aside instead of looping forever.
      this.drop(lane);
      this.giveUp(item, attempts - 1, new Error('the gateway stopped while handling it, every time (a crash loop?)'));
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(claimed.payloadJson);
    } catch (err) {
      this.drop(lane);
      this.giveUp(item, attempts, err); // no retry can repair a payload that is not JSON
      return;
    }

    let replied = false;
    const journal: ReplyJournal = {
      markReplied: () => {
        if (replied) return;
        replied = true;
        this.storeWrite('mark replied', () => store.markReplied(item.updateId));
      },
    };
    try {
      await this.options.handler({ updateId: item.updateId, chatId: item.chatId, payload, attempts }, journal);
    } catch (err) {
      if (replied) {
        logger.warn(
          { updateId: item.updateId, err: this.redact((err as Error).message) },
          'Inbox: handler failed after its reply was sent; not retrying, so the reply is not sent twice',
        );
      } else if (attempts < this.maxAttempts) {
        this.scheduleRetry(item, attempts, err);
        return;
      } else {
        this.drop(lane);
        this.giveUp(item, attempts, err);
        return;
      }
    }
    this.drop(lane);
    this.storeWrite('mark done', () => store.markDone(item.updateId));
  }

  private scheduleRetry(item: OpenUpdate, attempts: number, err: unknown): void {
    // At shutdown the handler was most likely aborted: no reason to delay the next start.
    const delay = this.stopping ? 0 : this.backoff(attempts);
    const message = this.redact((err as Error)?.message ?? String(err));
    item.attempts = attempts;
    item.nextAttemptAt = Date.now() + delay;
    this.options.metrics?.updates.inc({ outcome: 'retry_scheduled' });
    this.options.logger.warn(
      { updateId: item.updateId, chatId: item.chatId, attempt: attempts, maxAttempts: this.maxAttempts, retryInMs: delay, err: message },
      'Inbox: handler failed; retrying later (this chat waits, other chats go on)',
    );
    this.storeWrite('schedule retry', () => this.options.store.scheduleRetry(item.updateId, item.nextAttemptAt, message));
  }

  private giveUp(item: OpenUpdate, attempts: number, err: unknown): void {
    const message = this.redact((err as Error)?.message ?? String(err));
    this.options.metrics?.updates.inc({ outcome: 'gave_up' });
    this.options.logger.error(
      { updateId: item.updateId, chatId: item.chatId, attempts, err: message },
      'Inbox: update failed on every attempt; kept as failed in the store and not retried',
    );
    this.storeWrite('mark failed', () => this.options.store.markFailed(item.updateId, message));
    this.options.alerter?.alert(
      `Update ${item.updateId} (chat ${item.chatId ?? 'none'}) failed ${attempts} time(s) and was set aside: ${message}`,
      { key: 'inbox-update-failed' },
    );
    this.options.audit?.write(
      auditRecord(item.updateId, { chat_id: item.chatId, kind: 'inbox', route: 'inbox', outcome: 'failed', error: `gave up after ${attempts} attempt(s): ${message}` }),
    );
  }

  /** Store trouble after a handler ran must not crash the process; late writes after close are expected. */
  private storeWrite(what: string, write: () => void): void {
    try {
      write();
    } catch (err) {
      if (this.stopping) this.options.logger.debug({ err, what }, 'Inbox: store write after shutdown skipped');
      else this.options.logger.error({ err, what }, 'Inbox: store write failed; the update may run again after a restart');
    }
  }
}
