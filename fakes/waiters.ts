/**
 * Promises that resolve when a condition on a fake's recorded state holds. The fake calls
 * `check()` after every change to that state; each waiter gives up after its own timeout.
 */
export class Waiters {
  private readonly pending = new Set<() => void>();

  constructor(private readonly label: string) {}

  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(check);
      };
      this.pending.add(check);
    });
  }

  /** Re-evaluates every waiting condition. */
  check(): void {
    for (const check of [...this.pending]) check();
  }
}
