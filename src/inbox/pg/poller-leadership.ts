import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { createClient } from './pg-connection.js';

/** The advisory lock key of the poller among the replicas ("getUpdates" in ASCII, cut to 48 bits). */
const POLLER_LOCK = 0x676574557064;

/**
 * Exactly one poller among the replicas (TELEGRAM_MODE=polling with DATABASE_URL): a session-level
 * advisory lock on a connection of its own. Telegram answers a second concurrent getUpdates with
 * 409 Conflict, so only the holder polls; the others try again every `retryMs`. When the holder
 * dies its session ends, PostgreSQL frees the lock, and the next try of another replica wins:
 * failover within about `retryMs` of the database noticing (at once for a closed socket).
 */
export class PollerLeadership {
  private client: pg.Client | undefined;
  private holding = false;

  constructor(
    private readonly options: {
      url: string;
      applicationName: string;
      logger: Logger;
      /** How often a replica that is not the poller tries to become it. */
      retryMs: number;
    },
  ) {}

  get held(): boolean {
    return this.holding;
  }

  /** Resolves once this replica holds the lock; rejects with the signal's reason when aborted. */
  async acquire(signal: AbortSignal): Promise<void> {
    let said = false;
    while (!this.holding) {
      signal.throwIfAborted();
      try {
        const client = await this.connection();
        const result = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1) AS ok`, [POLLER_LOCK]);
        this.holding = result.rows[0]?.ok === true;
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'Polling: cannot reach the database to elect the poller; retrying');
        this.drop();
      }
      if (this.holding) break;
      if (!said) this.options.logger.info('Polling: another replica is the poller; this one takes over if it stops');
      said = true;
      await sleep(this.options.retryMs, undefined, { signal });
    }
  }

  /** Gives the lock up (shutdown), so another replica polls at once. */
  async release(): Promise<void> {
    this.holding = false;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = createClient({ url: this.options.url, applicationName: this.options.applicationName });
    // A lost session has lost the lock with it: stop polling until it is won again.
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private drop(): void {
    if (this.holding) this.options.logger.warn('Polling: lost the poller lock (database connection closed); stopping until it is won again');
    this.holding = false;
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => undefined);
  }
}
