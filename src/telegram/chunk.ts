/** Telegram's sendMessage limit, in UTF-16 code units (what JavaScript's `length` counts). */
export const TELEGRAM_MESSAGE_LIMIT = 4096;

/**
 * Splits text into chunks Telegram accepts: at most `limit` UTF-16 code units each, cut at the
 * last line break when there is one in the second half of the window, else at the last space,
 * else hard, and never between the two halves of a surrogate pair (an emoji would turn into two
 * replacement characters).
 */
export function chunkMessage(text: string, limit: number = TELEGRAM_MESSAGE_LIMIT): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    let cut = window.lastIndexOf('\n');
    let skip = 1; // drop the separator itself
    if (cut < limit / 2) {
      cut = window.lastIndexOf(' ');
      if (cut < limit / 2) {
        cut = isHighSurrogate(window.charCodeAt(limit - 1)) ? limit - 1 : limit;
        skip = 0;
      }
    }
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut + skip);
  }
  if (rest.length > 0 || chunks.length === 0) chunks.push(rest);
  return chunks.filter((c, i) => c.length > 0 || i === 0);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
