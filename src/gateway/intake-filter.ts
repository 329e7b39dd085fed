import { isForwarded, isFromBot, isGroupChat, messageKind, type MessageKind } from '../telegram/message-kind.js';
import type { IncomingMessage } from '../telegram/update-schema.js';
import { addressing, type BotIdentity } from './addressing.js';
import type { Allowlist } from './allowlist.js';
import type { ReplyTarget } from './reply-path.js';

export interface IntakeRules {
  allowlist: Pick<Allowlist, 'userAllowed' | 'chatAllowed'>;
  bot: BotIdentity;
}

/** What to do with one incoming message, decided before any router, model or skill is involved. */
export type Verdict =
  | { action: 'ignore'; kind: string; why: string }
  | { action: 'migrate'; from: number; to: number }
  | { action: 'unauthorized' }
  | { action: 'forwarded'; target: ReplyTarget }
  | { action: 'non_text'; target: ReplyTarget }
  | { action: 'handle'; target: ReplyTarget; text: string; userId: number };

/**
 * The order matters: an unknown group is ignored before anything else (nobody there is told
 * anything, not even strangers); service messages never get an answer but a migration moves the
 * chat's state whoever triggered it; bots and strangers in groups are ordinary group traffic
 * (debug only), strangers in private chats are a security event; in a group only messages that
 * address the bot go further; forwards never run anything on their own.
 */
export function judge(message: IncomingMessage, rules: IntakeRules): Verdict {
  const chatId = message.chat.id;
  const group = isGroupChat(message);
  if (message.chat.type === 'channel') return ignore('channel', 'channel message');
  const allowedChat = (id: number) => rules.allowlist.chatAllowed(id);
  // Both halves of an upgrade arrive, in two chats' lanes and in either order; either one moves the state.
  const from = message.migrate_from_chat_id;
  if (group && from !== undefined && allowedChat(from)) return { action: 'migrate', from, to: chatId };
  if (group && !allowedChat(chatId)) return ignore('group_not_allowed', 'group not in TELEGRAM_ALLOWED_CHAT_IDS');
  const kind: MessageKind = messageKind(message);
  if (kind === 'service') {
    if (group && message.migrate_to_chat_id !== undefined) return { action: 'migrate', from: chatId, to: message.migrate_to_chat_id };
    return ignore('service', 'service message');
  }
  if (isFromBot(message)) return ignore('from_bot', 'message written by a bot');
  const userId = message.from?.id;
  if (userId === undefined || !rules.allowlist.userAllowed(userId)) {
    return group ? ignore('group_stranger', 'group member not in TELEGRAM_ALLOWED_USER_IDS') : { action: 'unauthorized' };
  }
  const addressed = addressing(message, rules.bot, group);
  if (!addressed.addressed) return ignore(addressed.reason, `not addressed to this bot (${addressed.reason})`);
  const target: ReplyTarget = {
    chatId,
    ...(message.is_topic_message && message.message_thread_id !== undefined ? { threadId: message.message_thread_id } : {}),
    ...(group ? { replyTo: message.message_id } : {}),
  };
  if (isForwarded(message)) return { action: 'forwarded', target };
  if (kind === 'non_text') return { action: 'non_text', target };
  return { action: 'handle', target, text: addressed.text ?? '', userId };
}

function ignore(kind: string, why: string): Verdict {
  return { action: 'ignore', kind, why };
}
