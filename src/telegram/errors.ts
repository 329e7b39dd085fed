import { SkillgateError } from '../errors.js';

/** Telegram answered ok:false. Carries the method and Telegram's own error code. */
export class TelegramApiError extends SkillgateError {
  constructor(
    readonly method: string,
    readonly errorCode: number,
    readonly description: string,
    readonly retryAfterSeconds?: number,
    /** Set when the group was upgraded to a supergroup: the chat's new id. */
    readonly migrateToChatId?: number,
  ) {
    super('SG_TELEGRAM_API', `Telegram ${method} failed (${errorCode}): ${description}`);
    this.name = 'TelegramApiError';
  }
}

/** The request never got a Telegram answer: DNS, TCP, TLS, timeout, or a non-JSON reply. */
export class TelegramNetworkError extends SkillgateError {
  constructor(
    readonly method: string,
    message: string,
    cause?: unknown,
  ) {
    super('SG_TELEGRAM_NETWORK', `Telegram ${method} did not answer: ${message}`, { cause });
    this.name = 'TelegramNetworkError';
  }
}
