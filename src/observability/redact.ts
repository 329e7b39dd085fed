/**
 * Replaces every secret (bot token, webhook secret, API keys) in a string with a marker.
 * Used on every log line, every error message that leaves the process and every alert, so a
 * secret that slips into an interpolated URL or an upstream error body still never gets out.
 */
export type Redactor = (text: string) => string;

export const REDACTED = '[REDACTED]';

export function createRedactor(secrets: readonly string[]): Redactor {
  const parts = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    parts.add(s);
    // A bot token `123:ABC` also leaks as its secret half alone; JSON escapes nothing in it.
    const colon = s.indexOf(':');
    if (/^\d+:/.test(s) && s.length - colon > 8) parts.add(s.slice(colon + 1));
  }
  // Longest first, so a token is replaced whole before its secret half is considered.
  const list = [...parts].filter((p) => p.length >= 4).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  const pattern = new RegExp(list.map(escapeRegExp).join('|'), 'g');
  return (text) => (text.length === 0 ? text : text.replace(pattern, REDACTED));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
