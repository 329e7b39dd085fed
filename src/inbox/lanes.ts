import type { OpenUpdate } from './types.js';

/** One chat's queue: its updates in update_id order, at most one of them running. */
export interface Lane {
  key: string;
  queue: OpenUpdate[];
  running: boolean;
  /** Set while the head waits for its retry time. */
  timer: NodeJS.Timeout | undefined;
}

/** A chat's lane key; an update without a chat is a lane of its own (the PostgreSQL store keys its lane owners by it). */
export function laneKeyOf(updateId: number, chatId: number | null): string {
  return chatId === null ? `u${updateId}` : `c${chatId}`;
}

/**
 * Per-chat FIFO lanes plus a FIFO of lanes ready to run. A lane goes to the back of the ready
 * list after each update, so one busy chat cannot starve the others (round-robin across chats).
 * Updates without a chat each get a lane of their own: they have no conversation order to keep.
 */
export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  /** Insertion-ordered set used as an O(1) queue; a lane is in it at most once. */
  private readonly ready = new Set<Lane>();

  get size(): number {
    return this.lanes.size;
  }

  /** Adds an update to its chat's lane, keeping update_id order behind a running head. */
  add(update: OpenUpdate): void {
    const key = laneKeyOf(update.updateId, update.chatId);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, queue: [], running: false, timer: undefined };
      this.lanes.set(key, lane);
    }
    const floor = lane.running ? 1 : 0;
    let at = lane.queue.length;
    while (at > floor && lane.queue[at - 1]!.updateId > update.updateId) at--;
    lane.queue.splice(at, 0, update);
    if (!lane.running && lane.timer === undefined) this.ready.add(lane);
  }

  /** The next lane whose head may start, or undefined. */
  takeReady(): Lane | undefined {
    const next = this.ready.values().next();
    if (next.done) return undefined;
    this.ready.delete(next.value);
    return next.value;
  }

  /** After its head finished or was rescheduled: back in line, or gone when empty. */
  release(lane: Lane): void {
    lane.running = false;
    if (lane.queue.length === 0) {
      this.lanes.delete(lane.key);
      return;
    }
    if (lane.timer === undefined) this.ready.add(lane);
  }

  /** Holds the lane until `ms` from now (its head waits for a retry), then calls `wake`. */
  park(lane: Lane, ms: number, wake: () => void): void {
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      if (!lane.running) this.ready.add(lane);
      wake();
    }, ms);
  }

  /** Stops every retry timer (shutdown). */
  clearTimers(): void {
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
  }
}
