import type { IncomingMessage } from './update-schema.js';

/**
 * Message fields that make a message a service message (a member joined, a pin, a migration,
 * a topic event, a timer...). Telegram adds new ones over time; `isServiceMessage` also treats a
 * message with no content field at all as a service message, so a future event is never answered
 * with "text only".
 */
const SERVICE_FIELDS = [
  'new_chat_members', 'left_chat_member', 'new_chat_title', 'new_chat_photo', 'delete_chat_photo',
  'group_chat_created', 'supergroup_chat_created', 'channel_chat_created', 'message_auto_delete_timer_changed',
  'migrate_to_chat_id', 'migrate_from_chat_id', 'pinned_message', 'invoice', 'successful_payment',
  'refunded_payment', 'users_shared', 'chat_shared', 'gift', 'unique_gift', 'connected_website',
  'write_access_allowed', 'passport_data', 'proximity_alert_triggered', 'boost_added',
  'chat_background_set', 'checklist_tasks_done', 'checklist_tasks_added', 'direct_message_price_changed',
  'forum_topic_created', 'forum_topic_edited', 'forum_topic_closed', 'forum_topic_reopened',
  'general_forum_topic_hidden', 'general_forum_topic_unhidden', 'giveaway_created', 'giveaway_winners',
  'giveaway_completed', 'paid_message_price_changed', 'video_chat_scheduled', 'video_chat_started',
  'video_chat_ended', 'video_chat_participants_invited', 'web_app_data',
] as const;

/** Message fields that carry content a user sent (anything but text gets the "text only" reply). */
const CONTENT_FIELDS = [
  'text', 'animation', 'audio', 'document', 'paid_media', 'photo', 'sticker', 'story', 'video',
  'video_note', 'voice', 'contact', 'dice', 'game', 'poll', 'venue', 'location', 'checklist', 'giveaway',
] as const;

export type MessageKind = 'text' | 'non_text' | 'service';

export function messageKind(message: IncomingMessage): MessageKind {
  const fields = message as Record<string, unknown>;
  if (SERVICE_FIELDS.some((f) => fields[f] !== undefined)) return 'service';
  if (typeof message.text === 'string') return 'text';
  if (CONTENT_FIELDS.some((f) => fields[f] !== undefined)) return 'non_text';
  return 'service';
}

/** Forwarded (Bot API 7+ `forward_origin`, or the older `forward_from*` fields) or a story/automatic forward. */
export function isForwarded(message: IncomingMessage): boolean {
  const m = message as Record<string, unknown>;
  return (
    m.forward_origin !== undefined ||
    m.forward_from !== undefined ||
    m.forward_from_chat !== undefined ||
    m.forward_sender_name !== undefined ||
    m.forward_date !== undefined ||
    m.is_automatic_forward === true
  );
}

/**
 * Written by a bot, not typed by a person: a bot account, a message sent through an inline bot
 * (`via_bot`), or on behalf of a chat (`sender_chat`: anonymous admins, linked channels).
 */
export function isFromBot(message: IncomingMessage): boolean {
  const m = message as Record<string, unknown>;
  return message.from?.is_bot === true || m.via_bot !== undefined || m.sender_chat !== undefined;
}

/** Groups and supergroups (channels do not send `message` updates; their posts are `channel_post`). */
export function isGroupChat(message: IncomingMessage): boolean {
  return message.chat.type === 'group' || message.chat.type === 'supergroup';
}
