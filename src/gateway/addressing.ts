import { parseCommand } from '../router/commands.js';
import type { IncomingMessage, MessageEntity } from '../telegram/update-schema.js';

/** Who this bot is. The id is known from the token at once; the username only after getMe. */
export interface BotIdentity {
  readonly id: number | undefined;
  readonly username: string | undefined;
}

export type Addressing =
  | { addressed: true; text: string | undefined }
  | { addressed: false; reason: 'other_bot' | 'identity_unknown' | 'not_addressed' };

/**
 * Whether a group message from an allowed user is meant for this bot, and its text with the
 * bot's @mention taken out. A group message is for us when it is
 * - a command addressed to us (`/cmd@this_bot`), or a bare `/cmd`: with privacy mode on Telegram
 *   delivers bare commands to every bot in the group, so a bare command is treated as meant for
 *   us, as grammY's `bot.command()` does; with several bots in one group, address them by name;
 * - an @mention of us (a `mention` entity with our username, or a `text_mention` of our id);
 * - a reply to one of our messages (not the topic's opening message, which every message in a
 *   forum topic formally replies to).
 * Until getMe has told us our username, `/cmd@anything` and @mentions cannot be checked and are
 * not answered (fail closed). Private chats only need the `/cmd@other_bot` check.
 */
export function addressing(message: IncomingMessage, bot: BotIdentity, inGroup: boolean): Addressing {
  const text = message.text ?? message.caption;
  const entities = (message.text !== undefined ? message.entities : message.caption_entities) ?? [];
  const command = message.text !== undefined ? parseCommand(message.text) : undefined;
  if (command?.mention) {
    if (bot.username === undefined) return inGroup ? { addressed: false, reason: 'identity_unknown' } : { addressed: true, text };
    return sameName(command.mention, bot.username) ? { addressed: true, text } : { addressed: false, reason: 'other_bot' };
  }
  if (!inGroup || command) return { addressed: true, text };
  if (text !== undefined && mentionsBot(text, entities, bot)) return { addressed: true, text: withoutMention(text, entities, bot) };
  if (repliesToBot(message, bot)) return { addressed: true, text };
  return { addressed: false, reason: 'not_addressed' };
}

function mentionsBot(text: string, entities: readonly MessageEntity[], bot: BotIdentity): boolean {
  return entities.some((e) => isBotMention(text, e, bot));
}

function isBotMention(text: string, e: MessageEntity, bot: BotIdentity): boolean {
  if (e.type === 'text_mention') return bot.id !== undefined && e.user?.id === bot.id;
  if (e.type !== 'mention' || bot.username === undefined) return false;
  // Entity offsets and lengths count UTF-16 code units, as JavaScript strings do.
  return sameName(text.slice(e.offset + 1, e.offset + e.length), bot.username);
}

/** "@this_bot what files?" -> "what files?": the router should see the question, not our name. */
function withoutMention(text: string, entities: readonly MessageEntity[], bot: BotIdentity): string {
  let out = text;
  // From the end, so earlier offsets stay valid.
  for (const e of [...entities].sort((a, b) => b.offset - a.offset)) {
    if (e.type === 'mention' && isBotMention(text, e, bot)) out = out.slice(0, e.offset) + out.slice(e.offset + e.length);
  }
  const cleaned = out.replace(/^[\s,:]+/, '').replace(/\s{2,}/g, ' ').trim();
  return cleaned === '' ? text : cleaned;
}

function repliesToBot(message: IncomingMessage, bot: BotIdentity): boolean {
  const replied = message.reply_to_message;
  if (!replied || bot.id === undefined || replied.from?.id !== bot.id) return false;
  const topicOpener = replied.forum_topic_created !== undefined || (message.is_topic_message === true && replied.message_id === message.message_thread_id);
  return !topicOpener;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
