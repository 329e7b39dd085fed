import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createRedactor, type Redactor } from '../observability/redact.js';
import { silentAlerter, type Alerter } from './alerter.js';
import { deliverToDiscord, type DeliveryOptions, type DeliveryResult } from './discord-delivery.js';
import { SkillgateError } from '../errors.js';

export { ALERT_PREFIX, ALERT_USERNAME, DISCORD_CONTENT_MAX, discordPayload } from './discord-delivery.js';

export interface DiscordAlerterOptions {
  /** The Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN). Its token is a secret. */
  url: string;
  logger: Logger;
  redact: Redactor;
  metrics?: Metrics;
  /** Per-attempt timeout. Default 10000. */
  timeoutMs?: number;
  /** Identical alerts (same key) within this window are sent once, then summarised as "(xN)". Default 60000. */
  coalesceWindowMs?: number;
  /** Alerts waiting to be sent; beyond this new ones are dropped (and counted). Default 100. */
  maxQueue?: number;
  /** Attempts per alert. Default 5. */
  maxAttempts?: number;
  /** First backoff step after a 5xx or network error. Default 1000. */
  backoffBaseMs?: number;
  /** Longest wait a 429 may impose. Default 60000. */
  maxRetryAfterMs?: number;
  /** undici dispatcher (tests); default the global one. */
  dispatcher?: Dispatcher;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

interface Pending {
  key: string;
  text: string;
  /** How many occurrences this one message stands for. */
  count: number;
}

interface CoalesceWindow {
  text: string;
  openedAt: number;
  /** Occurrences seen since the window opened and not sent yet. */
  suppressed: number;
  timer?: NodeJS.Timeout;
}

/**
 * Operations alerts to a Discord webhook. `alert` only queues (never awaits, never throws);
 * one background sender drains the queue in order, so Discord's per-webhook rate limit is met
 * by waiting rather than by losing alerts. The first of a burst of identical alerts goes out at
 * once; the rest are counted and sent as one "(xN)" line when the window closes, so a crash
 * loop produces a handful of messages instead of a 429 storm.
 */
export class DiscordAlerter implements Alerter {
  private readonly queue: Pending[] = [];
  private readonly windows = new Map<string, CoalesceWindow>();
  private readonly shutdown = new AbortController();
  private readonly redact: Redactor;
  private readonly delivery: DeliveryOptions;
  private readonly windowMs: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private sender: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: DiscordAlerterOptions) {
    this.redact = webhookRedactor(options.url, options.redact);
    this.windowMs = options.coalesceWindowMs ?? 60_000;
    this.maxQueue = options.maxQueue ?? 100;
    this.now = options.now ?? Date.now;
    this.delivery = {
      dispatcher: options.dispatcher,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxAttempts: options.maxAttempts ?? 5,
      backoffBaseMs: options.backoffBaseMs ?? 1_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      redact: this.redact,
      signal: this.shutdown.signal,
      keepAlive: false,
    };
  }

  alert(text: string, options: { key?: string } = {}): void {
    try {
      if (this.closed) return;
      const safe = this.redact(String(text));
      const key = options.key ?? safe;
      const queued = this.queue.find((p) => p.key === key);
      if (queued) {
        queued.count++;
        this.count('coalesced');
        return;
      }
      const window = this.windows.get(key);
      if (window && this.now() - window.openedAt < this.windowMs) {
        window.suppressed++;
        this.count('coalesced');
        window.timer ??= this.armSummary(key, window);
        return;
      }
      this.pruneWindows();
      this.windows.set(key, { text: safe, openedAt: this.now(), suppressed: 0 });
      this.enqueue({ key, text: safe, count: 1 });
    } catch (err) {
      // An alert must never break the code path that raised it.
      this.options.logger.warn({ err }, 'Could not queue a Discord alert');
    }
  }

  /** Sends held "(xN)" summaries and waits for the queue to drain, giving up at the deadline. */
  async flush(timeoutMs: number): Promise<void> {
    for (const [key, window] of this.windows) this.releaseSummary(key, window);
    const deadline = new AbortController();
    await Promise.race([
      this.idle(),
      sleep(Math.max(0, timeoutMs), undefined, { signal: deadline.signal, ref: false }).catch(() => undefined),
    ]);
    deadline.abort();
    const pending = this.queue.length + (this.sender ? 1 : 0);
    if (pending > 0) {
      this.options.logger.warn({ pending }, 'Discord alerts still unsent at the flush deadline');
    }
  }

  /** Shutdown: flush within `timeoutMs`, then cancel whatever is still waiting or in flight. */
  async close(timeoutMs = 2_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.shutdown.abort();
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
    await this.sender?.catch(() => undefined);
  }

  private enqueue(pending: Pending): void {
    if (this.queue.length >= this.maxQueue) {
      this.count('dropped');
      this.options.logger.warn({ alert: pending.text }, 'Discord alert queue full; alert dropped');
      return;
    }
    this.queue.push(pending);
    this.startSender();
  }

  private startSender(): void {
    if (this.sender || this.closed) return;
    this.sender = this.drain().finally(() => {
      this.sender = undefined;
      // An alert queued between the loop's last check and this callback must not be stranded.
      if (this.queue.length > 0) this.startSender();
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      const text = next.count > 1 ? `${next.text} (x${next.count})` : next.text;
      const result = await deliverToDiscord(this.options.url, text, this.delivery);
      this.report(text, result);
      if (this.shutdown.signal.aborted) return;
    }
  }

  private report(text: string, result: DeliveryResult): void {
    if (result.ok) {
      this.count('sent');
      this.options.logger.debug({ attempts: result.attempts }, 'Discord alert sent');
      return;
    }
    this.count('failed');
    // The alert itself goes to the log so it is not lost with the delivery.
    this.options.logger.error({ reason: result.reason, attempts: result.attempts, alert: text }, 'Discord alert not delivered');
  }

  private armSummary(key: string, window: CoalesceWindow): NodeJS.Timeout {
    const wait = Math.max(0, window.openedAt + this.windowMs - this.now());
    const timer = setTimeout(() => this.releaseSummary(key, window), wait);
    timer.unref();
    return timer;
  }

  /** Queues "(xN)" for what the window held back and opens a fresh window. */
  private releaseSummary(key: string, window: CoalesceWindow): void {
    clearTimeout(window.timer);
    window.timer = undefined;
    if (window.suppressed === 0) return;
    const count = window.suppressed;
    window.suppressed = 0;
    window.openedAt = this.now();
    this.enqueue({ key, text: window.text, count });
  }

  private pruneWindows(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (!window.timer && window.suppressed === 0 && now - window.openedAt >= this.windowMs) this.windows.delete(key);
    }
  }

  private async idle(): Promise<void> {
    while (this.sender) await this.sender;
  }

  private count(outcome: 'sent' | 'failed' | 'coalesced' | 'dropped'): void {
    this.options.metrics?.alerts.inc({ outcome });
  }
}

/** Discord when DISCORD_WEBHOOK_URL is set; otherwise silent, said once at start. */
export function alerterFor(url: string | undefined, options: Omit<DiscordAlerterOptions, 'url'>): Alerter {
  if (!url) {
    options.logger.warn('DISCORD_WEBHOOK_URL is not set: operations alerts are off');
    return silentAlerter;
  }
  return new DiscordAlerter({ ...options, url });
}

export interface SendOnceOptions {
  redact?: Redactor;
  /** Default 10000. */
  timeoutMs?: number;
  /** Default 3: a person is waiting at the terminal. */
  maxAttempts?: number;
  /** Default 1000. */
  backoffBaseMs?: number;
  /** Default 30000. */
  maxRetryAfterMs?: number;
  dispatcher?: Dispatcher;
}

/** One alert, awaited, for `npm run alert`: same payload, limits and redaction as the gateway. */
/** The webhook token is the URL's last segment: redacted even when the caller's redactor does not know it. */
function webhookRedactor(url: string, outer?: Redactor): Redactor {
  const own = createRedactor([url, safeUrl(url).pathname.split('/').filter(Boolean).pop() ?? '']);
  return outer ? (text) => own(outer(text)) : own;
}

export async function sendDiscordAlertOnce(url: string, text: string, options: SendOnceOptions = {}): Promise<DeliveryResult> {
  try {
    safeUrl(url);
  } catch (err) {
    return { ok: false, attempts: 0, reason: (err as Error).message };
  }
  const redact = webhookRedactor(url, options.redact);
  return deliverToDiscord(url, redact(text), {
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxAttempts: options.maxAttempts ?? 3,
    backoffBaseMs: options.backoffBaseMs ?? 1_000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
    redact,
    keepAlive: true,
  });
}

function safeUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SkillgateError('SG_INVALID_OPTION', 'DISCORD_WEBHOOK_URL is not a URL; copy it from Discord: Channel settings > Integrations > Webhooks');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new SkillgateError('SG_INVALID_OPTION', 'DISCORD_WEBHOOK_URL must be an https:// URL');
  }
  return parsed;
}
