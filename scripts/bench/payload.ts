/**
 * Update bodies as Telegram sends them: a private-chat text message with the usual fields
 * (from, chat, date, entities), about 400 bytes of JSON like the real thing.
 */

export const BENCH_SECRET = 'bench_secret_0123456789';
export const BENCH_TOKEN = '123456789:AAbenchTokenForLoopbackOnly_0123456789';
/** The first allowed user; the burst uses BASE_USER_ID .. BASE_USER_ID + chats - 1. */
export const BASE_USER_ID = 700_000_001;

export interface UpdateSpec {
  updateId: number;
  userId: number;
  text: string;
  /** `edited_message`: the gateway stores it and then ignores it (no reply). */
  kind?: 'message' | 'edited_message';
}

export function telegramUpdate({ updateId, userId, text, kind = 'message' }: UpdateSpec): object {
  const date = Math.floor(Date.now() / 1000);
  const message = {
    message_id: updateId,
    from: { id: userId, is_bot: false, first_name: 'Ada', last_name: 'Lovelace', username: 'ada_bench', language_code: 'en' },
    chat: { id: userId, first_name: 'Ada', last_name: 'Lovelace', username: 'ada_bench', type: 'private' },
    date,
    ...(kind === 'edited_message' ? { edit_date: date } : {}),
    text,
    ...(text.startsWith('/') ? { entities: [{ offset: 0, length: text.split(' ')[0]!.length, type: 'bot_command' }] } : {}),
  };
  return { update_id: updateId, [kind]: message };
}

/** The text of the burst's update `id`; the gateway answers "Unknown command /b<id>. Try /help.". */
export function burstText(id: number): string {
  return `/b${id}`;
}

/** The update id a burst reply answers, or undefined for other replies. */
export function burstIdOf(replyText: string): number | undefined {
  const m = /^Unknown command \/b(\d+)\./.exec(replyText);
  return m ? Number(m[1]) : undefined;
}
