import OpenAI, {
  type ClientOptions,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import { fetch as undiciFetch } from 'undici';
import type { Config } from '../config/schema.js';
import { SkillgateError } from '../errors.js';

/**
 * The OpenAI SDK client, built from config, plus the failure taxonomy the router acts on. The
 * SDK does the per-request timeout and the retries (429 honouring Retry-After, 5xx, network);
 * every outbound byte goes through undici's fetch.
 */

export type LlmConfig = NonNullable<Config['llm']>;
export type FetchFunction = typeof undiciFetch;

/** OpenAI's own endpoint, stated here so the SDK never falls back to reading the environment. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** Servers such as Ollama or llama.cpp take no key, but the SDK insists on one. */
export const PLACEHOLDER_API_KEY = 'not-needed';

export function createOpenAIClient(config: LlmConfig, fetch: FetchFunction = undiciFetch): OpenAI {
  return new OpenAI({
    apiKey: config.apiKey ?? PLACEHOLDER_API_KEY,
    baseURL: config.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
    organization: null,
    project: null,
    timeout: config.timeoutMs,
    maxRetries: config.maxRetries,
    // undici's fetch and the SDK's Fetch type describe the same function with different lib types.
    fetch: fetch as unknown as ClientOptions['fetch'],
    // Failures are reported by the router, through the redacting logger.
    logLevel: 'off',
  });
}

/**
 * What went wrong with an LLM call, as the router treats it:
 * - `auth`: the key was refused (401/403); retrying cannot help, the operator must act;
 * - `rate_limited` / `server_error` / `network`: transient, already retried by the SDK;
 * - `timeout`: one request or the turn's wall-time cap ran out;
 * - `aborted`: the gateway is shutting down;
 * - `rejected`: any other 4xx (unknown model, request too large, ...).
 */
export type LlmFailureKind = 'auth' | 'rate_limited' | 'server_error' | 'network' | 'timeout' | 'aborted' | 'rejected' | 'error';

export interface LlmFailure {
  kind: LlmFailureKind;
  status: number | undefined;
  /** The upstream message; may echo request data, so pass it through the redactor before it leaves. */
  message: string;
}

export function classifyLlmError(err: unknown, reason: { shutdown: boolean; wallTimeExceeded: boolean }): LlmFailure {
  const message = err instanceof Error ? err.message : String(err);
  const status = err instanceof APIError && typeof err.status === 'number' ? err.status : undefined;
  const kind = ((): LlmFailureKind => {
    if (reason.wallTimeExceeded) return 'timeout';
    if (reason.shutdown) return 'aborted';
    if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) return 'auth';
    if (err instanceof RateLimitError) return 'rate_limited';
    if (err instanceof APIConnectionTimeoutError) return 'timeout';
    if (err instanceof APIUserAbortError) return 'aborted';
    if (err instanceof APIConnectionError) return 'network';
    if (status !== undefined && status >= 500) return 'server_error';
    if (status !== undefined && status >= 400) return 'rejected';
    return 'error';
  })();
  return { kind, status, message };
}

/** One chat.completions call failed (after the SDK's retries). Carries the classified failure. */
export class LlmRequestError extends SkillgateError {
  constructor(readonly failure: LlmFailure) {
    super('SG_LLM_FAILED', `LLM request failed (${failure.kind}${failure.status === undefined ? '' : ` ${failure.status}`})`);
    this.name = 'LlmRequestError';
  }
}

/** `endpoint` without any user:password part, fit for a log line. */
export function displayEndpoint(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return '(invalid URL)';
  }
}
