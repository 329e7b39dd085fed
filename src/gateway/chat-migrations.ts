import type { Logger } from '../observability/logger.js';
import { StateFile } from './state-file.js';

const FILE = 'chat-migrations.json';
/** A chain longer than this is a loop in a corrupt file, not real migrations. */
const MAX_HOPS = 8;

/**
 * Groups upgraded to supergroups (`migrate_to_chat_id`): the old id stops working the moment the
 * new one exists. Kept in DATA_DIR so that after a restart replies for updates still queued under
 * the old id go to the new chat, and an allowed group stays allowed under its new id.
 */
export class ChatMigrations {
  private readonly moves = new Map<number, number>();
  private readonly listeners: Array<(from: number, to: number) => unknown> = [];
  private readonly state: StateFile;

  constructor(private readonly options: { dataDir: string; logger: Logger }) {
    this.state = new StateFile({ dataDir: options.dataDir, name: FILE, holds: 'chat migrations', logger: options.logger });
    this.load();
  }

  /** The chat's current id: follows old -> new as often as it was migrated. */
  resolve(chatId: number): number {
    let id = chatId;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const next = this.moves.get(id);
      if (next === undefined) return id;
      id = next;
    }
    return id;
  }

  /** Whether `chatId` is, or was migrated from, one of `ids`. */
  isAmong(chatId: number, ids: ReadonlySet<number>): boolean {
    if (ids.has(chatId)) return true;
    for (const [from, to] of this.moves) if (ids.has(from) && this.resolve(to) === chatId) return true;
    return false;
  }

  /** Called once per new migration, whichever way it was learned; moves a part's per-chat state. */
  onMigrate(listener: (from: number, to: number) => unknown): void {
    this.listeners.push(listener);
  }

  /**
   * Records a migration, learned from a migrate_to/from_chat_id service message or from a send
   * Telegram refused with the new id, and tells the listeners. Returns false when it was known.
   */
  async record(from: number, to: number): Promise<boolean> {
    if (from === to || this.moves.get(from) === to) return false;
    this.moves.set(from, to);
    this.save();
    this.options.logger.info({ from, to }, `Group ${from} was upgraded to supergroup ${to}; its state moves along (set TELEGRAM_ALLOWED_CHAT_IDS to the new id)`);
    for (const listener of this.listeners) {
      try {
        await listener(from, to);
      } catch (err) {
        this.options.logger.error({ from, to, err }, 'Could not move a chat\'s state to its new id');
      }
    }
    return true;
  }

  private load(): void {
    const stored = this.state.read('ignoring it') as { moves?: Array<[number, number]> } | undefined;
    for (const [from, to] of stored?.moves ?? []) if (Number.isSafeInteger(from) && Number.isSafeInteger(to)) this.moves.set(from, to);
  }

  private save(): void {
    this.state.write({ version: 1, moves: [...this.moves] });
  }
}
