import { z } from 'zod';

/**
 * Incoming updates, typed permissively: only what the gateway reads is required, everything else
 * passes through untouched. Telegram adds fields and update types over time, and an update we
 * cannot fully describe must still be accepted (a 4xx would make Telegram retry it forever).
 */
const user = z.looseObject({ id: z.number().int(), username: z.string().optional(), first_name: z.string().optional() });
const chat = z.looseObject({ id: z.number().int(), type: z.string().optional() });

export const messageSchema = z.looseObject({
  message_id: z.number().int(),
  from: user.optional(),
  chat,
  text: z.string().optional(),
});

export const callbackQuerySchema = z.looseObject({
  id: z.string(),
  from: user,
  data: z.string().optional(),
  message: z.looseObject({ message_id: z.number().int(), chat }).optional(),
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
