import { z } from 'zod';

/**
 * Incoming updates, typed permissively: only what the gateway reads is required, everything else
 * passes through untouched. Telegram adds fields and update types over time, and an update we
 * cannot fully describe must still be accepted (a 4xx would make Telegram retry it forever).
 */
const user = z.looseObject({
  id: z.number().int(),
  is_bot: z.boolean().optional(),
  username: z.string().optional(),
  first_name: z.string().optional(),
});
const chat = z.looseObject({ id: z.number().int(), type: z.string().optional() });
const entity = z.looseObject({
  type: z.string(),
  offset: z.number().int(),
  length: z.number().int(),
  user: user.optional(),
});

/** The message a reply refers to: only who wrote it matters (a reply to the bot addresses it). */
const repliedTo = z.looseObject({
  message_id: z.number().int(),
  from: user.optional(),
  forum_topic_created: z.unknown().optional(),
});

export const messageSchema = z.looseObject({
  message_id: z.number().int(),
  from: user.optional(),
  chat,
  text: z.string().optional(),
  caption: z.string().optional(),
  entities: z.array(entity).optional(),
  caption_entities: z.array(entity).optional(),
  message_thread_id: z.number().int().optional(),
  is_topic_message: z.boolean().optional(),
  reply_to_message: repliedTo.optional(),
  media_group_id: z.string().optional(),
  migrate_to_chat_id: z.number().int().optional(),
  migrate_from_chat_id: z.number().int().optional(),
});

export const callbackQuerySchema = z.looseObject({
  id: z.string(),
  from: user,
  data: z.string().optional(),
  message: z.looseObject({ message_id: z.number().int(), chat, from: user.optional() }).optional(),
});

/**
 * The envelope check both intakes apply: a JSON object with an integer update_id. By hand, not
 * with zod: it runs for every update on the webhook's hot path, and zod's object parse copies the
 * whole update for a check of one field (issue 16).
 */
export function hasUpdateId(value: unknown): value is { update_id: number } & Record<string, unknown> {
  return typeof value === 'object' && value !== null && Number.isSafeInteger((value as { update_id?: unknown }).update_id);
}

export const updateSchema = z.looseObject({
  update_id: z.number().int(),
  message: messageSchema.optional(),
  callback_query: callbackQuerySchema.optional(),
});

export type IncomingMessage = z.infer<typeof messageSchema>;
export type CallbackQuery = z.infer<typeof callbackQuerySchema>;
export type MessageEntity = z.infer<typeof entity>;
