/**
 * The chat an update belongs to, which decides its lane in the per-chat queue. Shared by the
 * webhook route and the poller so both intakes put an update in the same lane.
 *
 * Update types without a chat (inline_query, chosen_inline_result, shipping_query, poll, ...)
 * give null: they carry no conversation order to preserve.
 */

/** Update fields whose value is a Message-like object with `chat`. */
const MESSAGE_FIELDS = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_message',
  'edited_business_message',
] as const;

/** Update fields whose value carries `chat` directly. */
const CHAT_FIELDS = [
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'message_reaction',
  'message_reaction_count',
  'chat_boost',
  'removed_chat_boost',
  'deleted_business_messages',
] as const;

/** Both kinds hold `chat` the same way, so one lookup serves them; messages first. */
const CHAT_HOLDING_FIELDS = [...MESSAGE_FIELDS, ...CHAT_FIELDS];

export function chatIdOf(update: unknown): number | null {
  if (!isObject(update)) return null;
  for (const field of CHAT_HOLDING_FIELDS) {
    const id = chatOf(update[field]);
    if (id !== null) return id;
  }
  // A button press belongs to the chat of the message that holds the button.
  const callback = update.callback_query;
  if (isObject(callback)) return chatOf(callback.message);
  return null;
}

function chatOf(holder: unknown): number | null {
  if (!isObject(holder) || !isObject(holder.chat)) return null;
  const id = holder.chat.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
