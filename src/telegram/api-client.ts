import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, FormData, type Dispatcher } from 'undici';
import { jitteredBackoff } from '../backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Redactor } from '../observability/redact.js';
import { chunkMessage } from './chunk.js';
import { TelegramApiError, TelegramNetworkError } from './errors.js';
import { postText } from './http-post.js';
import { DEFAULT_SEND_RATE_LIMITS, SendRateLimiter, type SendRateLimits } from './rate-limiter.js';

export interface TelegramApiOptions {
  token: string;
  /** TELEGRAM_API_BASE as the config resolved it (default and trailing slash handled there). */
  apiBase: string;
  logger: Logger;
  redact: Redactor;
  metrics?: Metrics;
  /** Outgoing message rate limits. Default: 30/s overall, 1/s per chat. */
  sendRateLimits?: SendRateLimits;
  /** This process's part of the overall send rate (1 alone; 1/n among n live replicas). Default 1. */
  sendRateShare?: () => number;
  /** Attempts for 429/5xx/network failures. Default 5. */
  maxAttempts?: number;
  /** Per-request timeout in ms (getUpdates adds its long-poll timeout). Default 15000. */
  timeoutMs?: number;
  /** Extra TLS options for the connection (tests against a self-signed emulator). */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Retry 429 (after retry_after) and 5xx/network errors (backoff). Default true. */
  retry?: boolean;
}

/** Where and how a message is sent, besides its text. */
export interface SendExtra {
  reply_markup?: object;
  /** Attaches the message to the question (groups); only the first chunk carries it. */
  reply_parameters?: { message_id: number; allow_sending_without_reply?: boolean };
  /** The forum topic the conversation is in; every chunk carries it. */
  message_thread_id?: number;
}

/** Link previews are off for everything the gateway sends: skill output must not fetch URLs. */
const NO_LINK_PREVIEW = { is_disabled: true } as const;

/** The subset of Telegram's Message the gateway reads. */
export interface TelegramMessage {
  message_id: number;
  chat: { id: number };
  text?: string;
}

export interface WebhookInfo {
  url: string;
  has_custom_certificate: boolean;
  pending_update_count: number;
  ip_address?: string;
  last_error_date?: number;
  last_error_message?: string;
  max_connections?: number;
  allowed_updates?: string[];
}

export interface SetWebhookParams {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
  max_connections?: number;
  drop_pending_updates?: boolean;
  ip_address?: string;
  /** PEM of a self-signed certificate; sent as a multipart file upload. */
  certificate?: Buffer | string;
}

interface TelegramEnvelope {
  ok: boolean;
  result?: unknown;
  description?: string;
  error_code?: number;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8_000;
/** Telegram's flood waits can be long; honour them, but never sleep past an hour on one call. */
const RETRY_AFTER_CAP_S = 3600;

/**
 * Telegram Bot API client on an undici keep-alive pool. ok:false becomes TelegramApiError;
 * 429 waits retry_after; 5xx and network errors back off with full jitter, bounded; other 4xx
 * fail at once (retrying a 400 only repeats it). The token is part of every URL, so nothing here
 * logs a URL and every error message goes through the redactor.
 */
export class TelegramApi {
  /** The API base's origin and the path every method is appended to, parsed once (not per call). */
  private readonly origin: string;
  private readonly methodPath: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly limiter: SendRateLimiter;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: TelegramApiOptions) {
    const base = new URL(`${options.apiBase}/bot${options.token}/`);
    this.origin = base.origin;
    this.methodPath = base.pathname;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, connections: 64 });
    this.limiter = new SendRateLimiter(options.sendRateLimits ?? DEFAULT_SEND_RATE_LIMITS, Date.now, options.sendRateShare);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async call<T>(method: string, params: object = {}, opts: CallOptions = {}): Promise<T> {
    const attempts = opts.retry === false ? 1 : this.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.callOnce(method, params, opts)) as T;
      } catch (err) {
        const wait = this.retryDelayMs(err, attempt);
        if (attempt >= attempts || wait === undefined || opts.signal?.aborted) throw err;
        this.options.logger.warn(
          { method, attempt, waitMs: wait, err: (err as Error).message },
          'Telegram API call failed, retrying',
        );
        await sleep(wait, undefined, { signal: opts.signal }).catch(() => undefined);
        if (opts.signal?.aborted) throw err;
      }
    }
  }

  getMe(): Promise<{ id: number; username: string; first_name: string }> {
    return this.call('getMe');
  }

  /**
   * Sends `text` as plain text, split into chunks Telegram accepts. Returns every message sent.
   * Redacted whole before it is cut: a secret split across two chunks would pass either half.
   */
  async sendMessage(chatId: number, text: string, extra: SendExtra = {}): Promise<TelegramMessage[]> {
    const chunks = chunkMessage(text.length > 0 ? this.options.redact(text) : '(empty reply)');
    const { reply_markup, reply_parameters, message_thread_id } = extra;
    const sent: TelegramMessage[] = [];
    for (const [i, chunk] of chunks.entries()) {
      await this.limiter.acquire(chatId);
      sent.push(
        await this.call<TelegramMessage>('sendMessage', {
          chat_id: chatId,
          text: chunk,
          link_preview_options: NO_LINK_PREVIEW,
          ...(message_thread_id !== undefined ? { message_thread_id } : {}),
          ...(i === 0 && reply_parameters ? { reply_parameters } : {}),
          // Buttons belong under the last chunk, next to the text they refer to.
          ...(i === chunks.length - 1 && reply_markup ? { reply_markup } : {}),
        }),
      );
    }
    return sent;
  }

  sendChatAction(chatId: number, action: 'typing' = 'typing', extra: { message_thread_id?: number } = {}): Promise<true> {
    // Cosmetic: one attempt only, a failure must not delay the real work.
    const thread = extra.message_thread_id !== undefined ? { message_thread_id: extra.message_thread_id } : {};
    return this.call('sendChatAction', { chat_id: chatId, action, ...thread }, { retry: false });
  }

  setWebhook(params: SetWebhookParams): Promise<true> {
    return this.call('setWebhook', params);
  }

  getWebhookInfo(): Promise<WebhookInfo> {
    return this.call('getWebhookInfo');
  }

  deleteWebhook(params: { drop_pending_updates?: boolean } = {}): Promise<true> {
    return this.call('deleteWebhook', params);
  }

  getUpdates(
    params: { offset?: number; timeout?: number; limit?: number; allowed_updates?: string[] },
    opts: { signal?: AbortSignal } = {},
  ): Promise<unknown[]> {
    const timeoutMs = this.timeoutMs + (params.timeout ?? 0) * 1000;
    return this.call('getUpdates', params, { signal: opts.signal, timeoutMs, retry: false });
  }

  answerCallbackQuery(callbackQueryId: string, text?: string): Promise<true> {
    return this.call('answerCallbackQuery', { callback_query_id: callbackQueryId, ...(text ? { text: this.options.redact(text) } : {}) });
  }

  editMessageReplyMarkup(chatId: number, messageId: number, replyMarkup?: object): Promise<unknown> {
    return this.call('editMessageReplyMarkup', {
      chat_id: chatId,
      message_id: messageId,
      ...(replyMarkup ? { reply_markup: replyMarkup } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async callOnce(method: string, params: object, opts: CallOptions): Promise<unknown> {
    const started = performance.now();
    // undici's own timers (headers, then body idle) instead of an AbortSignal.timeout per call:
    // no extra timer object and signal per request, and the same bound on a stuck request.
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let status: number;
    let envelope: TelegramEnvelope;
    try {
      const res = await postText(this.dispatcher, {
        origin: this.origin,
        path: this.methodPath + method,
        signal: opts.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...encodeBody(params),
      });
      status = res.statusCode;
      const text = res.text;
      try {
        envelope = JSON.parse(text) as TelegramEnvelope;
      } catch {
        throw new TelegramNetworkError(method, `HTTP ${status} with a body that is not JSON`);
      }
    } catch (err) {
      this.options.metrics?.telegramCalls.inc({ method, status: 'network' });
      if (err instanceof TelegramNetworkError) throw err;
      const reason = isTimeout(err) ? 'timed out' : this.options.redact((err as Error).message);
      throw new TelegramNetworkError(method, reason, err);
    }
    this.options.metrics?.telegramCalls.inc({ method, status: String(status) });
    this.options.logger.debug({ method, status, ms: Math.round(performance.now() - started) }, 'Telegram API call');
    if (envelope.ok) return envelope.result;
    throw new TelegramApiError(
      method,
      envelope.error_code ?? status,
      this.options.redact(envelope.description ?? `HTTP ${status}`),
      envelope.parameters?.retry_after,
      envelope.parameters?.migrate_to_chat_id,
    );
  }

  /** How long to wait before retrying, or undefined when the failure is final. */
  private retryDelayMs(err: unknown, attempt: number): number | undefined {
    if (err instanceof TelegramApiError) {
      if (err.errorCode === 429) return Math.min(err.retryAfterSeconds ?? 1, RETRY_AFTER_CAP_S) * 1000;
      if (err.errorCode >= 500) return jitteredBackoff(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
      return undefined;
    }
    if (err instanceof TelegramNetworkError) return jitteredBackoff(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
    return undefined;
  }
}


/** undici's headers or body timeout fired (its error codes, stable across undici 6 and 7). */
function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** JSON for ordinary calls; multipart when a file (the webhook certificate) is attached. */
function encodeBody(params: object): { body: string | FormData; headers?: Record<string, string> } {
  const certificate = (params as SetWebhookParams).certificate;
  if (certificate === undefined) {
    return { body: JSON.stringify(params), headers: { 'content-type': 'application/json' } };
  }
  const form = new FormData();
  for (const [key, value] of Object.entries(params)) {
    if (key === 'certificate' || value === undefined) continue;
    form.append(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  form.append('certificate', new Blob([certificate]), 'cert.pem');
  return { body: form };
}
