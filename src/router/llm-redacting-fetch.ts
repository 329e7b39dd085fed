import type { Redactor } from '../observability/redact.js';
import type { FetchFunction } from './llm-client.js';

/**
 * The provider boundary: every request body the OpenAI SDK sends (system prompt, history, the
 * user's words, tool messages, tool-call arguments) passes the outbound redactor here, so no
 * code path that builds messages can forget it. A JSON body is redacted string by string and
 * re-serialized, so a marker can never break the JSON around it; headers (the API key's
 * Authorization) are not touched.
 */
export function redactingFetch(fetch: FetchFunction, redact: Redactor): FetchFunction {
  return ((input: Parameters<FetchFunction>[0], init?: Parameters<FetchFunction>[1]) => {
    if (init && typeof init.body === 'string') init = { ...init, body: redactBody(init.body, redact) };
    return fetch(input, init);
  }) as FetchFunction;
}

function redactBody(body: string, redact: Redactor): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return redact(body);
  }
  return JSON.stringify(redactStrings(parsed, redact));
}

function redactStrings(value: unknown, redact: Redactor): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redact));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactStrings(v, redact);
    return out;
  }
  return value;
}
