import { setTimeout as sleep } from 'node:timers/promises';
import type { Alerter } from '../alerts/alerter.js';
import { chatIdOf } from './chat-id.js';
import type { AcceptResult } from '../inbox/store.js';
import type { UpdateStore } from '../inbox/update-store.js';
import type { Logger } from '../observability/logger.js';
import { exponentialStep, jitteredBackoff } from '../backoff.js';
import { ALLOWED_UPDATES } from './allowed-updates.js';
import { TelegramApiError } from './errors.js';
import { hasUpdateId } from './update-schema.js';

export interface UpdatesSource {
  getUpdates(
    params: { offset?: number; timeout?: number; limit?: number; allowed_updates?: string[] },
    opts?: { signal?: AbortSignal },
  ): Promise<unknown[]>;
}

export interface TelegramPollerOptions {
  api: UpdatesSource;
  store: Pick<UpdateStore, 'accept' | 'getMeta' | 'setMeta'>;
  /**
   * With several replicas (DATABASE_URL): only the holder polls. Default: none, this process is
   * the only poller.
   */
  leadership?: { readonly held: boolean; acquire(signal: AbortSignal): Promise<void> };
  /** Woken after each batch with new updates. */
  dispatcher: { notify(): void };
  logger: Logger;
  /** Told about a 409 Conflict or a rejected token. Default: none. */
  alerter?: Alerter;
  /** Long-poll timeout Telegram holds the request open for. Default 30 s. */
  timeoutSeconds?: number;
  /** Update types to receive. Default: ALLOWED_UPDATES, the same list the webhook registers. */
  allowedUpdates?: readonly string[];
  /** Backoff after a failure, ms, by consecutive failure count. Default: full jitter 500 ms doubling to 30 s. */
  backoff?: (failures: number) => number;
  /** Least time between the starts of two getUpdates calls, ms. Default 100. */
  minIntervalMs?: number;
  /**
   * Backoff after an empty answer that came back well before the long-poll timeout (a proxy or
   * emulator that does not hold the request), ms, by consecutive count. Default: 250 ms doubling to 5 s.
   */
  emptyBackoff?: (streak: number) => number;
}

/** Where the next getUpdates offset lives in the store's meta table. */
export const POLLING_OFFSET_KEY = 'telegram.polling.offset';
const INBOX_FULL_WAIT_MS = 1_000;

const defaultBackoff = (failures: number) => 500 + jitteredBackoff(failures, 500, 30_000);
const defaultEmptyBackoff = (streak: number) => exponentialStep(streak, 250, 5_000);
/** An empty answer faster than this fraction of the long-poll timeout was not a real long poll. */
const EARLY_FRACTION = 0.5;

/**
 * Long polling (TELEGRAM_MODE=polling): getUpdates feeding the same durable inbox as the webhook.
 * The offset, which tells Telegram to forget everything before it, is only advanced and saved
 * after the updates below it are committed, so a crash between the two re-fetches them and the
 * inbox dedupes them. A 409 Conflict means someone else owns delivery (a webhook is set or
 * another process polls): said once in plain words, alerted, then retried with backoff.
 */
export class TelegramPoller {
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private offset: number | undefined;
  private failures = 0;
  private earlyEmpties = 0;
  private inConflict = false;
  /** Sent with every getUpdates call; a copy, so the caller's list (or ALLOWED_UPDATES) stays untouched. */
  private readonly allowedUpdates: string[];

  constructor(private readonly options: TelegramPollerOptions) {
    this.allowedUpdates = [...(options.allowedUpdates ?? ALLOWED_UPDATES)];
  }

  start(): void {
    if (this.loop) return;
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.loop = this.run(signal).catch((err) => {
      if (signal.aborted) return; // stopped while waiting to become the poller
      this.options.logger.error({ err }, 'Polling: loop stopped unexpectedly');
    });
  }

  /** Reads the saved offset; again whenever this replica becomes the poller (the last one moved it on). */
  private async restoreOffset(): Promise<void> {
    const saved = await this.options.store.getMeta(POLLING_OFFSET_KEY);
    this.offset = saved === undefined ? undefined : Number(saved);
    this.options.logger.info({ offset: this.offset ?? null }, 'Polling: started (getUpdates long polling)');
  }

  /** Aborts the long poll in flight and waits for the loop to end. Idempotent. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { api, logger } = this.options;
    const timeout = this.options.timeoutSeconds ?? 30;
    const minIntervalMs = this.options.minIntervalMs ?? 100;
    const { leadership } = this.options;
    let lastStart = -Infinity;
    if (!leadership) await this.restoreOffset();
    while (!signal.aborted) {
      if (leadership && !leadership.held) {
        await leadership.acquire(signal);
        await this.restoreOffset();
      }
      // However the server answers, this loop never calls faster than minIntervalMs.
      const since = performance.now() - lastStart;
      if (since < minIntervalMs) await this.pause(minIntervalMs - since, signal);
      if (signal.aborted) return;
      lastStart = performance.now();
      let updates: unknown[];
      try {
        updates = await api.getUpdates(
          {
            ...(this.offset !== undefined ? { offset: this.offset } : {}),
            timeout,
            allowed_updates: this.allowedUpdates,
          },
          { signal },
        );
      } catch (err) {
        if (signal.aborted) return;
        this.reportFailure(err);
        await this.pause(this.nextBackoff(), signal);
        continue;
      }
      if (this.inConflict) logger.info('Polling: getUpdates works again; the conflict is over');
      this.inConflict = false;
      this.failures = 0;
      if (updates.length === 0) {
        const early = timeout > 0 && performance.now() - lastStart < timeout * 1000 * EARLY_FRACTION;
        if (!early) {
          this.earlyEmpties = 0;
          continue;
        }
        this.earlyEmpties++;
        if (this.earlyEmpties === 3) logger.warn({ timeout }, 'Polling: getUpdates keeps answering empty at once (is the long poll cut by a proxy?); backing off');
        await this.pause((this.options.emptyBackoff ?? defaultEmptyBackoff)(this.earlyEmpties), signal);
        continue;
      }
      this.earlyEmpties = 0;
      try {
        const full = await this.commit(updates);
        if (full) await this.pause(INBOX_FULL_WAIT_MS, signal);
      } catch (err) {
        logger.error({ err }, 'Polling: could not store updates; fetching them again after a pause');
        await this.pause(this.nextBackoff(), signal);
      }
    }
  }

  /** Commits a batch (one transaction via the store's group commit), then saves the offset. Returns true when the inbox was full. */
  private async commit(updates: unknown[]): Promise<boolean> {
    const { store, logger } = this.options;
    const valid = updates.filter(hasUpdateId).sort((a, b) => a.update_id - b.update_id);
    if (valid.length < updates.length) logger.warn({ skipped: updates.length - valid.length }, 'Polling: ignored updates without an integer update_id');
    const results: AcceptResult[] = await Promise.all(
      valid.map((u) => store.accept(u.update_id, chatIdOf(u), JSON.stringify(u), u)),
    );
    // Advance only past the committed prefix: anything after a 'full' must be fetched again.
    let next = this.offset;
    let accepted = 0;
    let full = false;
    for (const [i, result] of results.entries()) {
      if (result === 'full') {
        full = true;
        break;
      }
      if (result === 'accepted') accepted++;
      next = valid[i]!.update_id + 1;
    }
    if (next !== undefined && next !== this.offset) {
      await store.setMeta(POLLING_OFFSET_KEY, String(next));
      this.offset = next;
    }
    if (accepted > 0) this.options.dispatcher.notify();
    if (full) logger.warn('Polling: inbox is full (INBOX_MAX_PENDING); leaving the rest with Telegram for now');
    return full;
  }

  private reportFailure(err: unknown): void {
    const { logger, alerter } = this.options;
    if (err instanceof TelegramApiError && err.errorCode === 409) {
      if (this.inConflict) return;
      this.inConflict = true;
      const text =
        'Polling: Telegram answered 409 Conflict to getUpdates: a webhook is set for this bot (remove it with ' +
        '`npm run webhook:delete`, or use TELEGRAM_MODE=webhook), or another process is polling with the same token ' +
        '(stop it). Retrying with backoff.';
      logger.error({ description: err.description }, text);
      alerter?.alert(text, { key: 'polling-conflict' });
      return;
    }
    if (err instanceof TelegramApiError && (err.errorCode === 401 || err.errorCode === 404)) {
      const text = `Polling: Telegram rejected the bot token (${err.errorCode}); check TELEGRAM_BOT_TOKEN. Retrying with backoff.`;
      logger.error(text);
      alerter?.alert(text, { key: 'polling-token' });
      return;
    }
    logger.warn({ err: (err as Error).message, failures: this.failures + 1 }, 'Polling: getUpdates failed; reconnecting with backoff');
  }

  private nextBackoff(): number {
    this.failures++;
    return (this.options.backoff ?? defaultBackoff)(this.failures);
  }

  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, undefined, { signal }).catch(() => {});
  }
}
