import { setTimeout as sleep } from 'node:timers/promises';
import { SkillgateError } from '../errors.js';
import type { InboxDispatcherOptions } from './dispatch-types.js';
import { Lanes, type Lane } from './lanes.js';
import type { OpenUpdate } from './types.js';
import { UpdateRun } from './update-run.js';
import { isPromise } from './update-store.js';

/** Rows read per query when the dispatcher reads the store back. */
const LOAD_PAGE = 1000;

export type { DispatchStore, InboxDispatcherOptions, InboxUpdate, ReplyJournal, UpdateHandler } from './dispatch-types.js';
export { defaultBackoff } from './update-run.js';

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
  private readonly updateRun: UpdateRun;
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
      throw new SkillgateError('SG_INVALID_OPTION', 'InboxDispatcher: concurrency must be an integer >= 1 (CHAT_CONCURRENCY)');
    }
    this.updateRun = new UpdateRun(options, () => this.stopping);
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
    const resume = (n: number) => {
      if (n > 0) this.options.logger.info({ updates: n }, 'Inbox: resuming unfinished updates from the last run');
      this.pump();
    };
    if (isPromise(resumed)) void resumed.then(resume);
    else resume(resumed);
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
      if (isPromise(found)) void found.then((n) => this.loaded(n, replay));
      else this.loaded(found, replay);
    });
  }

  private loaded(found: number, replay: boolean): void {
    if (found > 0 && replay) this.options.logger.info({ updates: found }, 'Inbox: replaying unfinished updates after the store was reopened');
    else if (found > 0) {
      this.options.metrics?.inboxRescued.inc(found);
      this.options.logger.warn({ updates: found }, 'Inbox: rescan found updates that were never handed over; queued them now');
    }
    this.pump();
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
  private load(): number | Promise<number> {
    const { store } = this.options;
    if (store.writeHealth?.().writable === false) return 0;
    let queued = 0;
    let after = 0;
    /** Queues one page's rows; true when the page was full, so more may follow. */
    const queue = (rows: OpenUpdate[]): boolean => {
      for (const row of rows) {
        after = row.seq;
        if (this.held.has(row.seq)) continue;
        // Not held and replied: its reply went out before a restart (or its done mark was lost).
        if (row.state === 'replied') this.finishReplayedReply(row);
        else if (this.hold(row)) queued++;
      }
      return rows.length === LOAD_PAGE;
    };
    const unreadable = (err: unknown): number => {
      this.options.logger.error({ err }, 'Inbox: could not read the store; will try again');
      return queued;
    };
    // Stays synchronous while the store answers synchronously (SQLite); a PostgreSQL page is awaited.
    const pages = (): number | Promise<number> => {
      for (;;) {
        let rows: OpenUpdate[] | Promise<OpenUpdate[]>;
        try {
          rows = store.openSince(after, LOAD_PAGE);
        } catch (err) {
          return unreadable(err);
        }
        if (isPromise(rows)) return rows.then((page) => (queue(page) ? pages() : queued), unreadable);
        if (!queue(rows)) return queued;
      }
    };
    return pages();
  }

  /** Newly durable updates pushed by the store (in rising seq, but nothing here relies on it). */
  private take(rows: OpenUpdate[]): void {
    if (this.stopping) return;
    for (const row of rows) {
      // A replica's chats taken over with a reply sent and its done mark missing: finish, never resend.
      if (row.state === 'replied' && !this.held.has(row.seq)) this.finishReplayedReply(row);
      else this.hold(row);
    }
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
    this.updateRun.storeWrite('mark done', () => this.options.store.markDone(row.updateId));
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
    const job = this.updateRun
      .run(head, () => this.drop(lane))
      .catch((err) => this.options.logger.error({ err, updateId: head.updateId }, 'Inbox: unexpected dispatcher error'))
      .finally(() => {
        this.active--;
        this.inFlight.delete(job);
        this.lanes.release(lane);
        this.pump();
      });
    this.inFlight.add(job);
  }
}
