import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Extra headers (the secret). content-type is always application/json. */
  headers?: Record<string, string>;
  /** The JSON body of request number `n` (1, 2, ...), so every update_id is unique. */
  body: (n: number) => string;
}

export interface LoadResult {
  /** Successful (2xx) requests per second over the measured window. */
  rps: number;
  p50_ms: number;
  p99_ms: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * autocannon over HTTPS with keep-alive and no pipelining (Telegram does not pipeline). Every
 * request gets a fresh body from `body(n)`; the numbering continues across calls on the same
 * driver so a warm-up and the measured run never reuse an update_id.
 */
export class LoadDriver {
  #next = 1;

  async run(options: LoadOptions): Promise<LoadResult> {
    const result = await autocannon({
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      duration: options.seconds,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      requests: [
        {
          setupRequest: (request) => ({ ...request, body: options.body(this.#next++) }),
        },
      ],
    });
    const ok = result['2xx'];
    return {
      rps: Math.round(ok / result.duration),
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      total: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    };
  }
}
