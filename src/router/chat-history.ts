import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import { SkillgateError } from '../errors.js';

/**
 * Per-chat conversation memory for the LLM router, one JSON file per chat in DATA_DIR/chats, so a
 * restart keeps context. Bounded by message count and characters; trimming drops whole units from
 * the oldest end, where an assistant message that called tools and the tool results answering it
 * are one unit: the API rejects a tool message whose call is gone, and a call left unanswered.
 */

const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const messageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    tool_calls: z.array(toolCallSchema).optional(),
  }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() }),
]);

const fileSchema = z.object({ version: z.literal(1), messages: z.array(messageSchema) });

/** One remembered message; a subset of the chat.completions message shapes, assignable to them. */
export type HistoryMessage = z.infer<typeof messageSchema>;
export type ToolCall = z.infer<typeof toolCallSchema>;

/**
 * Where each chat's memory document lives: files in DATA_DIR/chats (ChatHistoryFiles, the
 * default), or a table when several replicas share PostgreSQL (PgChatDocuments), so the replica
 * that takes a chat over remembers its conversation. A document is the chat's whole memory,
 * written by the one process that runs the chat.
 */
export interface ChatDocuments {
  /** The stored text, or undefined when there is none. Throws only on a real read failure. */
  read(chatId: number): Promise<string | undefined>;
  /** Replaces the document durably (all or nothing). */
  write(chatId: number, text: string): Promise<void>;
  remove(chatId: number): Promise<void>;
  /** Moves `from`'s document to `to` unless `to` has one already. */
  move(from: number, to: number): Promise<void>;
  /** For log lines: where the document is. */
  describe(chatId: number): string;
}

export interface ChatHistoryOptions {
  /** DATA_DIR; files go to DATA_DIR/chats/<chatId>.json (unless `documents` says otherwise). */
  dataDir: string;
  /** Messages kept per chat (LLM_HISTORY_TURNS); 0 keeps nothing. */
  maxMessages: number;
  /** Characters kept per chat (LLM_HISTORY_CHARS), counting contents and tool-call arguments. */
  maxChars: number;
  logger: Logger;
  /** Default: files in DATA_DIR/chats. */
  documents?: ChatDocuments;
}

export class ChatHistory {
  private readonly documents: ChatDocuments;

  constructor(private readonly options: ChatHistoryOptions) {
    this.documents = options.documents ?? new ChatHistoryFiles(options.dataDir);
  }

  /** The chat's remembered messages, oldest first; empty when none or the document is unreadable. */
  async load(chatId: number): Promise<HistoryMessage[]> {
    let raw: string | undefined;
    try {
      raw = await this.documents.read(chatId);
    } catch (err) {
      this.options.logger.warn({ chatId, err }, 'chat history unreadable; starting this chat afresh');
      return [];
    }
    if (raw === undefined) return [];
    try {
      const parsed = fileSchema.safeParse(JSON.parse(raw));
      if (parsed.success) return parsed.data.messages;
    } catch {
      // fall through: not JSON
    }
    this.options.logger.warn({ chatId, file: this.documents.describe(chatId) }, 'chat history file is malformed; starting this chat afresh');
    return [];
  }

  /**
   * Appends a finished turn and writes the trimmed result atomically.
   * `previous` is the history as loaded at the start of the turn, when the caller has it: a chat
   * runs one update at a time, so it is still current and need not be read again.
   */
  async append(chatId: number, messages: readonly HistoryMessage[], previous?: readonly HistoryMessage[]): Promise<void> {
    if (this.options.maxMessages === 0 || this.options.maxChars === 0) return;
    const before = previous ?? (await this.load(chatId));
    const kept = trimHistory([...before, ...messages], this.options.maxMessages, this.options.maxChars);
    await this.documents.write(chatId, JSON.stringify({ version: 1, messages: kept }));
  }

  /** Forgets the chat (`/reset`). */
  async reset(chatId: number): Promise<void> {
    await this.documents.remove(chatId);
  }

  /** A group became a supergroup: its memory follows it, unless the new chat already has one. */
  async move(from: number, to: number): Promise<void> {
    await this.documents.move(from, to);
  }
}

/** One JSON file per chat in DATA_DIR/chats, replaced atomically (temp file, fsync, rename). */
export class ChatHistoryFiles implements ChatDocuments {
  private dirReady = false;
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'chats');
  }

  async read(chatId: number): Promise<string | undefined> {
    try {
      return await readFile(this.fileOf(chatId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(chatId: number, text: string): Promise<void> {
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.dirReady = true;
    }
    const file = this.fileOf(chatId);
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  }

  async remove(chatId: number): Promise<void> {
    await rm(this.fileOf(chatId), { force: true });
  }

  async move(from: number, to: number): Promise<void> {
    const target = this.fileOf(to);
    const exists = await readFile(target).then(() => true, () => false);
    if (exists) return;
    await rename(this.fileOf(from), target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  describe(chatId: number): string {
    return this.fileOf(chatId);
  }

  private fileOf(chatId: number): string {
    // A number, never user text, names the file: no path can be smuggled in.
    if (!Number.isSafeInteger(chatId)) throw new SkillgateError('SG_INVALID_OPTION', `chat id must be an integer, got ${chatId}`);
    return path.join(this.dir, `${chatId}.json`);
  }
}

/**
 * Keeps the newest messages within both bounds. Drops whole units from the front, then any units
 * before the first user message, so the kept history starts where a conversation can start.
 */
export function trimHistory(messages: readonly HistoryMessage[], maxMessages: number, maxChars: number): HistoryMessage[] {
  const units = toUnits(messages);
  let count = messages.length;
  let chars = messages.reduce((sum, m) => sum + charsOf(m), 0);
  let start = 0;
  while (start < units.length && (count > maxMessages || chars > maxChars)) {
    const unit = units[start++]!;
    count -= unit.length;
    chars -= unit.reduce((sum, m) => sum + charsOf(m), 0);
  }
  while (start < units.length && units[start]![0]!.role !== 'user') start++;
  return units.slice(start).flat();
}

/** Groups messages so an assistant tool-call message and its tool results stay together. */
function toUnits(messages: readonly HistoryMessage[]): HistoryMessage[][] {
  const units: HistoryMessage[][] = [];
  for (const message of messages) {
    const last = units[units.length - 1];
    if (message.role === 'tool' && last) last.push(message);
    else units.push([message]);
  }
  return units;
}

export function charsOf(message: HistoryMessage): number {
  let n = message.content?.length ?? 0;
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) n += call.function.name.length + call.function.arguments.length;
  }
  return n;
}
