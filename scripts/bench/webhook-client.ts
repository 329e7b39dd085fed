import { Pool } from 'undici';
import { BENCH_SECRET } from './payload.js';

/**
 * Posts updates to a gateway's webhook the way Telegram does (JSON, the secret header), over a
 * keep-alive HTTPS pool that trusts the bench's self-signed certificate.
 */
export class WebhookClient {
  readonly #pool: Pool;
  readonly #path: string;

  constructor(webhookUrl: string, ca: string, connections: number) {
    const url = new URL(webhookUrl);
    this.#path = url.pathname;
    this.#pool = new Pool(url.origin, { connections, connect: { ca }, pipelining: 1 });
  }

  /** The HTTP status, or 0 when the connection failed (a killed gateway). */
  async post(update: object): Promise<number> {
    try {
      const res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': BENCH_SECRET },
        body: JSON.stringify(update),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      await res.body.dump();
      return res.statusCode;
    } catch {
      return 0;
    }
  }

  /** Drops every connection at once (after a kill -9 the sockets are dead anyway). */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
