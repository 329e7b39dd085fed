import type { Alerter } from '../alerts/alerter.js';
import type { Logger } from '../observability/logger.js';
import type { CallbackQuery } from '../telegram/update-schema.js';
import type { ChatMigrations } from './chat-migrations.js';
import { UnauthorizedTracker } from './unauthorized-tracker.js';

export interface AllowlistOptions {
  /** TELEGRAM_ALLOWED_USER_IDS. */
  allowedUserIds: ReadonlySet<number>;
  /** Groups the bot works in (TELEGRAM_ALLOWED_CHAT_IDS). Default none: groups are ignored. */
  allowedChatIds?: ReadonlySet<number>;
  /** An allowed group keeps its place after an upgrade to a supergroup. */
  migrations?: ChatMigrations;
  alerter: Alerter;
  logger: Logger;
}

/** What a button tap may do: go on, be quietly answered (group traffic), or count as a stranger. */
export type TapVerdict = 'allowed' | 'ignored' | 'unauthorized';

/**
 * The allowlist stage: who may use the bot and in which groups. Strangers in private chats are
 * a security event (a WARN, and an alert once they keep trying); strangers in groups are
 * ordinary group traffic.
 */
export class Allowlist {
  private readonly strangers: UnauthorizedTracker;
  private readonly chats: ReadonlySet<number>;

  constructor(private readonly options: AllowlistOptions) {
    this.strangers = new UnauthorizedTracker(options.alerter);
    this.chats = options.allowedChatIds ?? new Set<number>();
  }

  userAllowed(userId: number | undefined): boolean {
    return userId !== undefined && this.options.allowedUserIds.has(userId);
  }

  chatAllowed(chatId: number): boolean {
    return this.options.migrations?.isAmong(chatId, this.chats) ?? this.chats.has(chatId);
  }

  /** A stranger wrote to the bot in a private chat. */
  refuse(userId: number | undefined, chatId?: number): void {
    this.options.logger.warn({ userId: userId ?? null, ...(chatId !== undefined ? { chatId } : {}) }, `Security Filter: Unauthorized request from user_id: ${userId ?? 'unknown'}`);
    if (userId !== undefined) this.strangers.record(userId);
  }

  /** A button tap: by an allowed user, and in a group only when the group is allowed. */
  judgeTap(query: CallbackQuery): TapVerdict {
    const chat = query.message?.chat;
    const inGroup = chat?.type === 'group' || chat?.type === 'supergroup';
    if (this.userAllowed(query.from.id) && (!inGroup || this.chatAllowed(chat.id))) return 'allowed';
    if (inGroup) {
      this.options.logger.debug({ userId: query.from.id, chatId: chat.id }, 'Button tap in a group by someone not allowed; answered, ignored');
      return 'ignored';
    }
    this.refuse(query.from.id);
    return 'unauthorized';
  }
}
