import type pg from 'pg';
import type { ChatDocuments } from '../../router/chat-history.js';

/**
 * The LLM router's chat memory in PostgreSQL, so the replica that takes a chat over remembers
 * its conversation. One row per chat, written only by the replica that runs the chat.
 */
export class PgChatDocuments implements ChatDocuments {
  constructor(private readonly pool: pg.Pool) {}

  async read(chatId: number): Promise<string | undefined> {
    const result = await this.pool.query<{ document: string }>(`SELECT document FROM chat_memory WHERE chat_id = $1`, [chatId]);
    return result.rows[0]?.document;
  }

  async write(chatId: number, text: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO chat_memory (chat_id, document) VALUES ($1, $2)
       ON CONFLICT (chat_id) DO UPDATE SET document = EXCLUDED.document, updated_at = now()`,
      [chatId, text],
    );
  }

  async remove(chatId: number): Promise<void> {
    await this.pool.query(`DELETE FROM chat_memory WHERE chat_id = $1`, [chatId]);
  }

  async move(from: number, to: number): Promise<void> {
    // Into `to` unless it has its own memory already (then both stay, as with the files).
    await this.pool.query(`UPDATE chat_memory SET chat_id = $2 WHERE chat_id = $1 AND NOT EXISTS (SELECT 1 FROM chat_memory WHERE chat_id = $2)`, [
      from,
      to,
    ]);
  }

  describe(chatId: number): string {
    return `chat_memory row ${chatId}`;
  }
}
