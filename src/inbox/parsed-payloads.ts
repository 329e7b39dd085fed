/**
 * The payloads intake already parsed, kept for the dispatcher's claim of the same update (issue
 * 16): the claim then reads no payload back from SQLite and parses no JSON a second time. Only
 * updates this process inserted and has not claimed yet are here, so each one's claim is its
 * first run (attempts 1). Bounded: past `capacity` queued updates (a backlog) the rest are read
 * back from the database as before, so memory does not grow with the queue.
 */
export class ParsedPayloads {
  private readonly byUpdateId = new Map<number, object>();

  constructor(private readonly capacity = 4096) {}

  /** Keeps `payload` for `updateId`'s first claim, unless full. */
  keep(updateId: number, payload: object): void {
    if (this.byUpdateId.size < this.capacity) this.byUpdateId.set(updateId, payload);
  }

  /** The payload, once: a later claim (a retry) reads the row. */
  take(updateId: number): object | undefined {
    const payload = this.byUpdateId.get(updateId);
    if (payload !== undefined) this.byUpdateId.delete(updateId);
    return payload;
  }

  get size(): number {
    return this.byUpdateId.size;
  }

  /** The database was reopened or closed: what it holds is read back from it. */
  clear(): void {
    this.byUpdateId.clear();
  }
}
