import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import type { Redactor } from '../observability/redact.js';
import { jitteredBackoff } from '../backoff.js';

/**
 * One Discord webhook POST with bounded retries: the transport under both the gateway's
 * DiscordAlerter and `npm run alert`. It never throws; the result says what happened.
 */

export const ALERT_USERNAME = 'AI-Agent-Monitor';
export const ALERT_PREFIX = '🚨 **SYSTEM ALERT:** ';
/** Discord refuses message content over 2000 characters (400); the prefix counts. */
export const DISCORD_CONTENT_MAX = 2000;
const TRUNCATION_MARK = '…';

export interface DeliveryOptions {
  dispatcher?: Dispatcher;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Attempts in total (429, 5xx, network errors and timeouts are retried). */
  maxAttempts: number;
  /** First backoff step for 5xx/network errors; doubles per attempt, jittered, capped at 30 s. */
  backoffBaseMs: number;
  /** Longest wait a 429 may impose; longer ones are cut to this. */
  maxRetryAfterMs: number;
  redact: Redactor;
  /** Cancels waits and the in-flight request (shutdown). */
  signal?: AbortSignal;
  /** Whether retry waits keep the process alive: true for a CLI, false for the gateway. */
  keepAlive: boolean;
}

export type DeliveryResult = { ok: true; attempts: number } | { ok: false; attempts: number; reason: string };

type Attempt = { kind: 'ok' } | { kind: 'retry'; waitMs: number; reason: string } | { kind: 'fatal'; reason: string };

/** The exact JSON body Discord receives; mentions are disabled so `@everyone` in a text never pings. */
export function discordPayload(text: string): string {
  return JSON.stringify({
    username: ALERT_USERNAME,
    content: capContent(ALERT_PREFIX + text),
    allowed_mentions: { parse: [] },
  });
}

/** Cuts to DISCORD_CONTENT_MAX UTF-16 units with a visible mark, never splitting a surrogate pair. */
export function capContent(content: string): string {
  if (content.length <= DISCORD_CONTENT_MAX) return content;
  let end = DISCORD_CONTENT_MAX - TRUNCATION_MARK.length;
  const code = content.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1; // high surrogate: keep the pair together
  return content.slice(0, end) + TRUNCATION_MARK;
}

export async function deliverToDiscord(url: string, text: string, options: DeliveryOptions): Promise<DeliveryResult> {
  const body = discordPayload(text);
  for (let attempt = 1; ; attempt++) {
    const result = await postOnce(url, body, attempt, options);
    if (result.kind === 'ok') return { ok: true, attempts: attempt };
    if (result.kind === 'fatal') return { ok: false, attempts: attempt, reason: result.reason };
    if (attempt >= options.maxAttempts) {
      return { ok: false, attempts: attempt, reason: `${result.reason} (gave up after ${attempt} attempts)` };
    }
    try {
      await sleep(result.waitMs, undefined, { signal: options.signal, ref: options.keepAlive });
    } catch {
      return { ok: false, attempts: attempt, reason: `${result.reason} (cancelled while waiting to retry)` };
    }
  }
}

async function postOnce(url: string, body: string, attempt: number, options: DeliveryOptions): Promise<Attempt> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let status: number;
  let headers: Record<string, string | string[] | undefined>;
  let text: string;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    status = res.statusCode;
    headers = res.headers;
    text = await res.body.text();
  } catch (err) {
    if (options.signal?.aborted) return { kind: 'fatal', reason: 'cancelled (shutting down)' };
    const reason = timeout.aborted
      ? `Discord did not answer within ${options.timeoutMs} ms`
      : `Discord unreachable: ${options.redact((err as Error).message)}`;
    return { kind: 'retry', waitMs: backoff(options, attempt), reason };
  }
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const said = options.redact(text.slice(0, 300)).trim();
  if (status === 429) {
    const asked = retryAfterMs(text, headers['retry-after']);
    const waitMs = Math.min(asked ?? backoff(options, attempt), options.maxRetryAfterMs);
    return { kind: 'retry', waitMs, reason: `Discord rate limit (429), asked to wait ${Math.ceil((asked ?? waitMs) / 1000)} s` };
  }
  if (status >= 500) return { kind: 'retry', waitMs: backoff(options, attempt), reason: `Discord server error ${status}${said ? `: ${said}` : ''}` };
  // 400 (bad payload), 401/403 (bad token), 404 (webhook deleted): retrying repeats the answer.
  return { kind: 'fatal', reason: `Discord answered ${status}${said ? `: ${said}` : ''}` };
}

/** Discord says how long in the JSON body (seconds, fractional) and in Retry-After (seconds). */
function retryAfterMs(body: string, header: string | string[] | undefined): number | undefined {
  try {
    const seconds = (JSON.parse(body) as { retry_after?: unknown }).retry_after;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  } catch {
    // not JSON: fall back to the header
  }
  const value = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
}

function backoff(options: DeliveryOptions, attempt: number): number {
  // Jitter spreads retries apart; the floor keeps a retry from hammering an ailing server at once.
  return Math.max(options.backoffBaseMs / 2, jitteredBackoff(attempt, options.backoffBaseMs, 30_000));
}
