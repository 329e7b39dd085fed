import type { Logger } from '../observability/logger.js';
import type { SendExtra, TelegramMessage } from '../telegram/api-client.js';
import { TelegramApiError } from '../telegram/errors.js';
import type { ChatMigrations } from './chat-migrations.js';
import type { HealthAlerts } from './health-alerts.js';
import { keepTyping } from './typing-indicator.js';

/** Where an answer goes: the chat, the forum topic, and the message it answers (groups). */
export interface ReplyTarget {
  chatId: number;
  /** message_thread_id of the forum topic, when the question was a topic message. */
  threadId?: number;
  /** The question, when the answer should be attached to it (groups). */
  replyTo?: number;
}

/** The Bot API calls the reply path makes (TelegramApi has them). */
export interface ReplyApi {
  sendMessage(chatId: number, text: string, extra?: SendExtra): Promise<TelegramMessage[]>;
  sendChatAction(chatId: number, action?: 'typing', extra?: { message_thread_id?: number }): Promise<unknown>;
}

export interface ReplyPathOptions {
  api: ReplyApi;
  logger: Logger;
  health?: HealthAlerts;
  /** Applied to every outgoing text (skill output, the model's answer, approval prompts). */
  redact?: (text: string) => string;
  migrations?: ChatMigrations;
}

/** The extra parameters of a message sent to `target`. */
export function extraFor(target: ReplyTarget): SendExtra {
  return {
    ...(target.threadId !== undefined ? { message_thread_id: target.threadId } : {}),
    ...(target.replyTo !== undefined ? { reply_parameters: { message_id: target.replyTo, allow_sending_without_reply: true } } : {}),
  };
}

/**
 * The one way a message leaves the gateway: answers, approval prompts, approved runs' results
 * and expiry notes all pass here, so they share redaction, the health counters, the log line and
 * (through TelegramApi) chunking, rate limits and metrics. It also follows group migrations: a
 * send to an upgraded group's old id is redirected to the supergroup Telegram names.
 */
export class ReplyPath {
  constructor(private readonly options: ReplyPathOptions) {}

  send(target: ReplyTarget, text: string, extra: { reply_markup?: object } = {}): Promise<TelegramMessage[]> {
    return this.sendMessage(target.chatId, text, { ...extraFor(target), ...extra });
  }

  /** TelegramApi's shape, so the approval flow can use the reply path in its place. */
  async sendMessage(chatId: number, text: string, extra: SendExtra = {}): Promise<TelegramMessage[]> {
    const { api, logger, health, migrations } = this.options;
    const safe = this.options.redact ? this.options.redact(text) : text;
    let to = migrations?.resolve(chatId) ?? chatId;
    let sent: TelegramMessage[];
    try {
      sent = await api.sendMessage(to, safe, extra);
    } catch (err) {
      const moved = err instanceof TelegramApiError ? err.migrateToChatId : undefined;
      if (moved === undefined || !migrations) {
        if (!isPermanent(err)) health?.telegramSendFailed((err as Error).message);
        throw err;
      }
      await migrations.record(to, moved);
      to = moved;
      // Message ids and topics do not carry over to the supergroup: send it plain.
      const { reply_markup } = extra;
      sent = await api.sendMessage(to, safe, reply_markup ? { reply_markup } : {});
    }
    health?.telegramSendSucceeded();
    logger.info({ chatId: to, chars: safe.length, ...(extra.message_thread_id !== undefined ? { threadId: extra.message_thread_id } : {}) }, 'Reply dispatched');
    return sent;
  }

  /** Shows "typing…" in the target's chat and topic until the returned function is called. */
  typing(target: ReplyTarget): () => void {
    const chatId = this.options.migrations?.resolve(target.chatId) ?? target.chatId;
    const thread = target.threadId !== undefined ? { message_thread_id: target.threadId } : {};
    return keepTyping((id) => this.options.api.sendChatAction(id, 'typing', thread), chatId, this.options.logger);
  }
}

/** 4xx other than 429: the chat is gone or blocked us; retrying would only repeat it. */
export function isPermanent(err: unknown): boolean {
  return err instanceof TelegramApiError && err.errorCode >= 400 && err.errorCode < 500 && err.errorCode !== 429;
}
