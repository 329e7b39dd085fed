import type { Logger } from '../observability/logger.js';

/** Telegram shows "typing…" for about 5 s per sendChatAction; refresh a little sooner. */
const REFRESH_MS = 4_000;

/**
 * Shows the typing action in a chat until the returned function is called. Failures are
 * cosmetic and only logged at debug level.
 */
export function keepTyping(
  send: (chatId: number) => Promise<unknown>,
  chatId: number,
  logger: Logger,
): () => void {
  const tick = () => {
    send(chatId).catch((err: Error) => logger.debug({ chatId, err: err.message }, 'typing action failed'));
  };
  tick();
  const timer = setInterval(tick, REFRESH_MS);
  timer.unref();
  return () => clearInterval(timer);
}
