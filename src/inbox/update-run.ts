import { spreadBackoff } from '../backoff.js';
import { SkillgateError } from '../errors.js';
import { auditRecord } from '../observability/audit-record.js';
import type { Redactor } from '../observability/redact.js';
import type { InboxDispatcherOptions, ReplyJournal } from './dispatch-types.js';
import type { OpenUpdate } from './types.js';
import { claimedPayload, isPromise, type Claim } from './update-store.js';

/** Retries a store write that failed (disk trouble) after this long, keeping the lane's order. */
const STORE_TROUBLE_RETRY_MS = 1_000;

/** 1 s, 2 s, 4 s ... capped at 30 s, each give or take 25 %. */
export function defaultBackoff(attempt: number): number {
  return spreadBackoff(attempt, 1_000, 30_000);
}

/**
 * One run of one stored update through the handler, and what its outcome writes to the store:
 * done, a retry later (the chat waits), or failed (alerted and audited, the chat moves on).
 * The dispatcher decides what runs when; this decides what a run means.
 */
export class UpdateRun {
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly redact: Redactor;

  constructor(
    private readonly options: InboxDispatcherOptions,
    /** True once shutdown began: retries are not delayed, late store writes are expected. */
    private readonly stopping: () => boolean,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoff = options.backoff ?? defaultBackoff;
    this.redact = options.redact ?? ((text) => text);
  }

  /**
   * Runs `item`. `finished` is called once the update leaves its lane (its final state is written
   * or it was finished already); it is not called when the update stays at the lane's head for a
   * retry (item.nextAttemptAt says when).
   */
  async run(item: OpenUpdate, finished: () => void): Promise<void> {
    const { store, logger } = this.options;
    let claimed: Claim | undefined;
    try {
      const claim = store.begin(item.updateId);
      claimed = isPromise(claim) ? await claim : claim;
      // Nothing is sent before the claim (and this chat's previous replied mark) is committed:
      // after kill -9 only claimed, unmarked updates can be sent twice (InboxStore's class comment).
      if (claimed) await store.committed?.();
    } catch (err) {
      logger.error({ err, updateId: item.updateId }, 'Inbox: could not claim an update; will try again');
      item.nextAttemptAt = Date.now() + STORE_TROUBLE_RETRY_MS;
      return;
    }
    if (!claimed) {
      finished(); // finished meanwhile (or pruned): nothing to run
      return;
    }
    // The store closed while the claim was being committed (shutdown past its grace period):
    // nothing may be sent whose outcome can no longer be recorded; it runs at the next start.
    if (store.isOpen === false) return;
    const attempts = claimed.attempts;
    if (attempts > this.maxAttempts) {
      // Earlier attempts never finished: the process died while handling this update each time.
      // Running it again would crash again, so it is set aside instead of looping forever.
      finished();
      await this.giveUp(item, attempts - 1, new SkillgateError('SG_UPDATE_CRASH_LOOP', 'the gateway stopped while handling it, every time (a crash loop?)'));
      return;
    }
    let payload: unknown;
    try {
      payload = claimedPayload(claimed);
    } catch (err) {
      finished();
      await this.giveUp(item, attempts, err); // no retry can repair a payload that is not JSON
      return;
    }

    let replied = false;
    const journal: ReplyJournal = {
      markReplied: () => {
        if (replied) return;
        replied = true;
        void this.storeWrite('mark replied', () => store.markReplied(item.updateId));
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
        await this.scheduleRetry(item, attempts, err);
        return;
      } else {
        finished();
        await this.giveUp(item, attempts, err);
        return;
      }
    }
    finished();
    const done = this.storeWrite('mark done', () => store.markDone(item.updateId));
    if (done) await done;
  }

  /**
   * Store trouble after a handler ran must not crash the process; late writes after close are
   * expected. A write that returns a promise (PostgreSQL) is awaited by the run, so the chat's next
   * claim comes after it; a synchronous one (SQLite) costs no extra turn.
   */
  storeWrite(what: string, write: () => void | Promise<void>): void | Promise<void> {
    try {
      const pending = write();
      if (isPromise(pending)) return pending.catch((err: unknown) => this.writeFailed(what, err));
    } catch (err) {
      this.writeFailed(what, err);
    }
  }

  private writeFailed(what: string, err: unknown): void {
    if (this.stopping()) this.options.logger.debug({ err, what }, 'Inbox: store write after shutdown skipped');
    else this.options.logger.error({ err, what }, 'Inbox: store write failed; the update may run again after a restart');
  }

  private scheduleRetry(item: OpenUpdate, attempts: number, err: unknown): void | Promise<void> {
    // At shutdown the handler was most likely aborted: no reason to delay the next start.
    const delay = this.stopping() ? 0 : this.backoff(attempts);
    const message = this.redact((err as Error)?.message ?? String(err));
    item.attempts = attempts;
    item.nextAttemptAt = Date.now() + delay;
    this.options.metrics?.updates.inc({ outcome: 'retry_scheduled' });
    this.options.logger.warn(
      { updateId: item.updateId, chatId: item.chatId, attempt: attempts, maxAttempts: this.maxAttempts, retryInMs: delay, err: message },
      'Inbox: handler failed; retrying later (this chat waits, other chats go on)',
    );
    return this.storeWrite('schedule retry', () => this.options.store.scheduleRetry(item.updateId, item.nextAttemptAt, message));
  }

  private giveUp(item: OpenUpdate, attempts: number, err: unknown): void | Promise<void> {
    const message = this.redact((err as Error)?.message ?? String(err));
    this.options.metrics?.updates.inc({ outcome: 'gave_up' });
    this.options.logger.error(
      { updateId: item.updateId, chatId: item.chatId, attempts, err: message },
      'Inbox: update failed on every attempt; kept as failed in the store and not retried',
    );
    const written = this.storeWrite('mark failed', () => this.options.store.markFailed(item.updateId, message));
    this.options.alerter?.alert(
      `Update ${item.updateId} (chat ${item.chatId ?? 'none'}) failed ${attempts} time(s) and was set aside: ${message}`,
      { key: 'inbox-update-failed' },
    );
    this.options.audit?.write(
      auditRecord(item.updateId, { chat_id: item.chatId, kind: 'inbox', route: 'inbox', outcome: 'failed', error: `gave up after ${attempts} attempt(s): ${message}` }),
    );
    return written;
  }
}
