import type { OpenUpdate } from './types.js';

/**
 * What a store tells its dispatcher, the same for both stores: rows it may run now (pushed, so
 * the dispatcher need not read them back), and that it may hold work nobody pushed (a reopen, a
 * reconnect), so the dispatcher reads everything back once.
 */
export class StoreEvents {
  private readonly durableListeners = new Set<(rows: OpenUpdate[]) => void>();
  private readonly reopenListeners = new Set<() => void>();

  /** Returns the unsubscribe function. */
  onDurable(listener: (rows: OpenUpdate[]) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /** Returns the unsubscribe function. */
  onReopen(listener: () => void): () => void {
    this.reopenListeners.add(listener);
    return () => this.reopenListeners.delete(listener);
  }

  durable(rows: OpenUpdate[]): void {
    for (const listener of this.durableListeners) listener(rows);
  }

  reopened(): void {
    for (const listener of this.reopenListeners) listener();
  }
}
