import type { AcceptResult } from '../../src/http/webhook-route.js';

/**
 * An intake that only dedupes by update_id, for the proxy tests: two servers given the same
 * instance behave like two replicas on one database (a duplicate across them is one update).
 */
export class MemoryIntake {
  private readonly ids = new Set<number>();
  /** Every accept call's answer, in order. */
  readonly answers: AcceptResult[] = [];
  has(id: number) {
    return this.ids.has(id);
  }
  get size() {
    return this.ids.size;
  }
  async accept(updateId: number): Promise<AcceptResult> {
    const answer = this.ids.has(updateId) ? 'duplicate' : 'accepted';
    this.ids.add(updateId);
    this.answers.push(answer);
    return answer;
  }
}
