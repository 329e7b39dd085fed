import { mayHoldPem, PEM_MARK, PEM_PRIVATE_KEY } from './pem.js';
import { formsOf, type Secret } from './secret-forms.js';
import { WINDOW, WindowMatcher, type Spans } from './window-matcher.js';

/**
 * The one outbound redactor: every Telegram message, LLM request, alert and log line passes it.
 * Replaces, with one marker each:
 * - any PEM private key block, whole (configured or not, with or without its END line);
 * - any run of WINDOW (12) or more characters of a configured secret, in any form of
 *   secret-forms.ts (plain, JSON-escaped, base64/base64url at every alignment, hex, percent);
 * - a configured secret shorter than WINDOW, or a URL that embeds one, where it appears whole.
 * Everything is compiled once at construction; a call is one PEM pre-check, one rolling-hash
 * pass, and (only when short or URL secrets exist) one precompiled regex.
 */
export type Redactor = (text: string) => string;

export const REDACTED = '[REDACTED]';

/** Shorter secrets would match ordinary words; config validation keeps real ones far longer. */
const MIN_WHOLE = 4;

export function createRedactor(secrets: readonly Secret[]): Redactor {
  const forms = [];
  const whole = new Set<string>();
  for (const secret of expand(secrets)) {
    if (typeof secret === 'string' && (secret.length < WINDOW || secret.includes('://'))) {
      // A URL's own text is public (https://discord.com/api/...): only the whole URL is secret;
      // its credential part is listed on its own and windowed.
      if (secret.length >= MIN_WHOLE) whole.add(secret);
      if (secret.includes('://')) continue;
    }
    forms.push(...formsOf(secret));
  }
  const windows = new WindowMatcher(forms);
  const wholePattern =
    whole.size === 0 ? undefined : new RegExp([...whole].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  // Nothing shorter can hold a match: most fields of a log or audit line (an outcome, a kind, an
  // id) are returned at once instead of running the window matcher (issue 16).
  const shortest = Math.min(PEM_MARK.length, WINDOW, ...[...whole].map((s) => s.length));
  return (text) => {
    if (text.length < shortest) return text;
    let out = mayHoldPem(text) ? text.replace(PEM_PRIVATE_KEY, REDACTED) : text;
    out = replaceSpans(out, windows.spans(out));
    return wholePattern ? out.replace(wholePattern, REDACTED) : out;
  };
}

/** A bot token `123:ABC` also leaks as its secret half alone, with its own base64 alignments. */
function* expand(secrets: readonly Secret[]): Generator<Secret> {
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    yield secret;
    if (typeof secret === 'string' && /^\d+:./.test(secret)) yield secret.slice(secret.indexOf(':') + 1);
  }
}

function replaceSpans(text: string, spans: Spans): string {
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
