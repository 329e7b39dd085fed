import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { createClient } from './pg-connection.js';
import { WAKEUP_CHANNEL } from './pg-intake.js';

const RECONNECT_MS = 1_000;

/**
 * LISTEN for updates another replica accepted into lanes this replica owns. The payload is
 * `<owner> <seq>,<seq>,...`; the seqs of one event-loop turn are handed over together. A NOTIFY
 * is delivered at most once and only to a connected listener, so after a reconnect `resync` is
 * called: whatever was sent meanwhile is read back from the table.
 */
export class InboxWakeups {
  private client: pg.Client | undefined;
  private pending: number[] = [];
  private scheduled = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      url: string;
      applicationName: string;
      replicaId: string;
      logger: Logger;
      /** Seqs accepted elsewhere for this replica's lanes. */
      wake: (seqs: number[]) => void;
      /** The listener (re)connected: notifications may have been missed. */
      resync: () => void;
    },
  ) {}

  async start(): Promise<void> {
    const client = createClient({ url: this.options.url, applicationName: this.options.applicationName });
    client.on('notification', (message) => this.received(message.payload ?? ''));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKEUP_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private received(payload: string): void {
    const space = payload.indexOf(' ');
    if (payload.slice(0, space) !== this.options.replicaId) return;
    for (const seq of payload.slice(space + 1).split(',')) this.pending.push(Number(seq));
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const seqs = this.pending;
      this.pending = [];
      if (!this.stopped && seqs.length > 0) this.options.wake(seqs);
    });
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.options.logger.warn({ err: err?.message }, 'Database: the wake-up listener lost its connection; reconnecting');
    this.reconnect();
  }

  private reconnect(): void {
    this.retry = setTimeout(() => {
      this.start()
        .then(() => {
          this.options.logger.info('Database: wake-up listener connected again');
          this.options.resync();
        })
        .catch(() => {
          if (!this.stopped) this.reconnect();
        });
    }, RECONNECT_MS);
    this.retry.unref();
  }
}
