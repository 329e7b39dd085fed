import { laneKeyOf } from '../lanes.js';
import type { OpenUpdate } from '../types.js';

/**
 * What this replica has pushed to its dispatcher, per lane: the highest seq. Intake and wake-ups
 * read every open row of the lanes they touch (an older row another replica accepted may have its
 * NOTIFY still on the way, and must not run after a newer one), so this keeps the store's promise
 * of pushing each row once: only rows above the lane's mark go out. A row committed below the
 * mark after it was set (two replicas inserting into one chat at the same instant) is the
 * dispatcher's rescan's to find, as before. One number per chat; an update without a chat is a
 * lane of one row, pushed once anyway, and is not kept.
 */
export class PushedRows {
  private readonly highest = new Map<string, number>();

  /**
   * The rows not pushed yet, in the order given, marked pushed now. A takeover hands a lane's
   * rows over anew: all of them go, whatever the marks say.
   */
  fresh(rows: OpenUpdate[], { takeover = false } = {}): OpenUpdate[] {
    const out = takeover ? rows : rows.filter((row) => row.seq > (this.highest.get(laneKeyOf(row.updateId, row.chatId)) ?? 0));
    for (const row of out) {
      if (row.chatId === null) continue;
      const lane = laneKeyOf(row.updateId, row.chatId);
      if (row.seq > (this.highest.get(lane) ?? 0)) this.highest.set(lane, row.seq);
    }
    return out;
  }
}
