/**
 * Where operations alerts go. The gateway only ever calls `alert`, which never blocks and never
 * throws: alerts are a side channel and must not slow or break the request path.
 */
export interface Alerter {
  /** Queue one alert. `key` groups identical alerts for coalescing (default: the text). */
  alert(text: string, options?: { key?: string }): void;
  /** Try to deliver what is queued, giving up at the deadline. Never throws. */
  flush(timeoutMs: number): Promise<void>;
  /** Flush with a deadline, then cancel whatever is still queued or in flight (shutdown). */
  close?(timeoutMs: number): Promise<void>;
}

/** Alerts off (no DISCORD_WEBHOOK_URL): drops everything. */
export const silentAlerter: Alerter = {
  alert() {},
  async flush() {},
};
