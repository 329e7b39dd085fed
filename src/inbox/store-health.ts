/** What /readyz, the alerts and the dispatcher need to know about the store's ability to write. */
export interface StoreHealth {
  writable: boolean;
  /** Why not (operator-facing, no secrets: a file path and the system's error). */
  reason?: string;
  /** Epoch ms since when. */
  since?: number;
}

/**
 * - `write`: a commit failed (disk full, read-only file system, I/O error). Nothing of that turn
 *   reached the file; the store probes with a tiny commit until one succeeds.
 * - `fsync`: the WAL's fsync failed. The commits are in the file but maybe not on the disk, and the
 *   kernel may have dropped their dirty pages; the store reopens the database (see InboxStore).
 */
export type StoreTroubleKind = 'write' | 'fsync';

/** The store's trouble state; tells `onChange` on every transition, never on a repeat. */
export class StoreHealthState {
  private trouble: { kind: StoreTroubleKind; reason: string; since: number } | undefined;

  constructor(private readonly onChange?: (health: StoreHealth) => void) {}

  get current(): StoreHealth {
    return this.trouble ? { writable: false, reason: this.trouble.reason, since: this.trouble.since } : { writable: true };
  }

  get kind(): StoreTroubleKind | undefined {
    return this.trouble?.kind;
  }

  /** Enters (or stays in) trouble. An fsync failure outranks a write failure: it needs a reopen. */
  fail(kind: StoreTroubleKind, reason: string, now: number): void {
    if (this.trouble && (this.trouble.kind === 'fsync' || kind === 'write')) return;
    const since = this.trouble?.since ?? now;
    this.trouble = { kind, reason, since };
    this.onChange?.(this.current);
  }

  /** Leaves trouble of `kind` (any when omitted). */
  recover(kind?: StoreTroubleKind): void {
    if (!this.trouble || (kind && this.trouble.kind !== kind)) return;
    this.trouble = undefined;
    this.onChange?.(this.current);
  }
}
