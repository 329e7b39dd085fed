/**
 * At most `max` calls run at once; up to `queueMax` more wait in FIFO order. Anything beyond is
 * refused at once (the caller reports "busy") rather than piling up unboundedly.
 */
export class ConcurrencyLimiter {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    readonly max: number,
    readonly queueMax: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A release function once a slot is free; undefined when the queue is full or `signal` aborts. */
  async acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return undefined;
    if (this.#running < this.max) {
      this.#running++;
      return this.#releaser();
    }
    if (this.#waiting.length >= this.queueMax) return undefined;
    return new Promise((resolve) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        this.#running++;
        resolve(this.#releaser());
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(wake);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(wake);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#waiting.shift()?.();
    };
  }
}
