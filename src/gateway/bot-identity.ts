import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredBackoff } from '../backoff.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { TelegramApi } from '../telegram/api-client.js';
import { TelegramApiError } from '../telegram/errors.js';
import type { BotIdentity } from './addressing.js';

/** Who the bot is, filled in as soon as getMe answers. */
export interface LearnedIdentity extends BotIdentity {
  id: number | undefined;
  username: string | undefined;
}

/** The bot id is the token's digits, known before any call; the username needs getMe. */
export function identityFromToken(token: string): LearnedIdentity {
  const id = Number(token.split(':')[0]);
  return { id: Number.isSafeInteger(id) ? id : undefined, username: undefined };
}

/**
 * getMe at start proves the token works before traffic is accepted; a rejected token is a config
 * error (thrown). Telegram unreachable: the start goes on and getMe is retried in the background
 * with backoff until it answers (or `signal` aborts), because the username decides which group
 * messages are ours; until then `/cmd@name` and @mentions in groups are not answered.
 */
export async function learnIdentity(options: {
  api: Pick<TelegramApi, 'getMe' | 'call'>;
  identity: LearnedIdentity;
  logger: Logger;
  signal: AbortSignal;
}): Promise<void> {
  const { api, identity, logger, signal } = options;
  const started = performance.now();
  const learn = (me: { id: number; username: string }, attempts: number) => {
    identity.id = me.id;
    identity.username = me.username;
    const afterMs = Math.round(performance.now() - started);
    const late = attempts > 1 ? ` (after ${attempts} attempts, ${afterMs} ms)` : '';
    logger.info({ bot: me.username, attempts, afterMs }, `Connection verified with the Telegram Bot API: @${me.username}${late}`);
  };
  try {
    learn(await api.getMe(), 1);
    return;
  } catch (err) {
    if (err instanceof TelegramApiError && (err.errorCode === 401 || err.errorCode === 404)) {
      throw new ConfigError([`TELEGRAM_BOT_TOKEN: was rejected by Telegram (${err.errorCode} ${err.errorCode === 401 ? 'Unauthorized' : 'Not Found'}); copy the token from @BotFather again`]);
    }
    logger.warn({ err: (err as Error).message }, 'Could not reach the Telegram Bot API at start; continuing and retrying getMe with backoff');
  }
  void (async () => {
    for (let attempt = 2; !signal.aborted; attempt++) {
      await sleep(1_000 + jitteredBackoff(attempt - 1, 1_000, 60_000), undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      try {
        learn(await api.call('getMe', {}, { retry: false, signal }), attempt);
        return;
      } catch (err) {
        logger.warn({ attempt, err: (err as Error).message }, 'getMe failed; retrying with backoff');
      }
    }
  })();
}
