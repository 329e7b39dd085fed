import type { Logger } from '../observability/logger.js';
import { StateFile } from './state-file.js';

export interface PendingApproval {
  id: string;
  chatId: number;
  userId: number;
  skill: string;
  args: unknown;
  createdAt: number;
  expiresAt: number;
  /** The message carrying the keyboard, to remove it after the decision. */
  messageId?: number;
  /** The forum topic and the question (groups), so the prompt and the outcome land next to it. */
  threadId?: number;
  replyTo?: number;
}

/**
 * Where pending approvals are kept: DATA_DIR/approvals.json (ApprovalFile, the default), or a
 * table when several replicas share PostgreSQL (PgApprovals), so a tap answered by the replica
 * that took the chat over still finds its request. take() is the one way a request is decided
 * or expired: it removes and returns it at most once, so a double tap, a replayed callback or two
 * replicas cannot run a skill twice.
 */
export interface ApprovalRecords {
  /** Stores or replaces one; false when it could not be stored. */
  put(entry: PendingApproval): Promise<boolean>;
  get(id: string): Promise<PendingApproval | undefined>;
  take(id: string): Promise<PendingApproval | undefined>;
  /** Takes every request expired at `now`. */
  takeExpired(now: number): Promise<PendingApproval[]>;
  /** A group became a supergroup: its requests follow; old message ids and topics do not carry over. */
  migrate(from: number, to: number): Promise<void>;
  /** Requests pending, as far as this process knows (tests, diagnostics). */
  readonly size: number;
}

const FILE = 'approvals.json';

/**
 * The requests in memory, mirrored whole to DATA_DIR/approvals.json on every change (StateFile:
 * atomic, synchronous). Every method does its work before its first await, so a take() has
 * removed the request before anything else can run.
 */
export class ApprovalFile implements ApprovalRecords {
  private readonly pending = new Map<string, PendingApproval>();
  private readonly state: StateFile;

  constructor(options: { dataDir: string; logger: Logger }) {
    this.state = new StateFile({ dataDir: options.dataDir, name: FILE, holds: 'pending approvals', logger: options.logger });
    const stored = this.state.read('starting with none (taps on old buttons get "no longer pending")') as { pending?: PendingApproval[] } | undefined;
    for (const entry of stored?.pending ?? []) {
      if (typeof entry.id === 'string' && typeof entry.expiresAt === 'number') this.pending.set(entry.id, entry);
    }
  }

  get size(): number {
    return this.pending.size;
  }

  async put(entry: PendingApproval): Promise<boolean> {
    const before = this.pending.get(entry.id);
    this.pending.set(entry.id, entry);
    if (this.save()) return true;
    if (before) this.pending.set(entry.id, before);
    else this.pending.delete(entry.id);
    return false;
  }

  async get(id: string): Promise<PendingApproval | undefined> {
    return this.pending.get(id);
  }

  async take(id: string): Promise<PendingApproval | undefined> {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    this.save();
    return entry;
  }

  async takeExpired(now: number): Promise<PendingApproval[]> {
    const stale = [...this.pending.values()].filter((p) => p.expiresAt <= now);
    if (stale.length === 0) return [];
    for (const entry of stale) this.pending.delete(entry.id);
    this.save();
    return stale;
  }

  async migrate(from: number, to: number): Promise<void> {
    let moved = false;
    for (const entry of this.pending.values()) {
      if (entry.chatId !== from) continue;
      this.pending.set(entry.id, migratedTo(entry, to));
      moved = true;
    }
    if (moved) this.save();
  }

  private save(): boolean {
    return this.state.write({ version: 1, pending: [...this.pending.values()] });
  }
}

/** The request as it stands in chat `to`: no message id or topic from the old chat. */
export function migratedTo(entry: PendingApproval, to: number): PendingApproval {
  const { messageId: _message, threadId: _thread, replyTo: _reply, ...rest } = entry;
  return { ...rest, chatId: to };
}
