/** Abort plumbing for one LLM turn: a wall-time cap joined to the gateway's shutdown signal. */

/**
 * The turn's signal: fires when the gateway's does (shutdown) or at the wall-time cap, with a
 * TimeoutError reason for the latter. Built by hand rather than with AbortSignal.any so nothing
 * stays attached to the long-lived gateway signal once the turn is over.
 */
export function turnAbortSignal(outer: AbortSignal, totalTimeoutMs: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onOuterAbort();
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException(`the turn exceeded LLM_TOTAL_TIMEOUT_MS (${totalTimeoutMs} ms)`, 'TimeoutError')),
    totalTimeoutMs,
  );
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}

export function isTimeout(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError';
}

/** Settles with `promise`, or rejects as soon as `signal` fires (the SDK's retry sleeps ignore it). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
