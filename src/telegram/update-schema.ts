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

/** The envelope check the webhook applies: a JSON object with an integer update_id. */
export const updateEnvelopeSchema = z.looseObject({ update_id: z.number().int() });

export const updateSchema = z.looseObject({
  update_id: z.number().int(),
  message: messageSchema.optional(),
  callback_query: callbackQuerySchema.optional(),
});

export type IncomingMessage = z.infer<typeof messageSchema>;
export type CallbackQuery = z.infer<typeof callbackQuerySchema>;
export type MessageEntity = z.infer<typeof entity>;
