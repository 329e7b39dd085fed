import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Waiters } from './waiters.js';

/**
 * A loopback imitation of a Discord webhook (POST /api/webhooks/:id/:token): 204 on success,
 * 404 "Unknown Webhook" for a wrong token, and scripted answers for the failure paths the
 * alerter must survive (429 with retry_after, 5xx, a request that never gets an answer).
 */

export interface DiscordAnswer {
  status: number;
  body?: object | string;
  headers?: Record<string, string>;
  /** Never answer (the client's timeout must fire). */
  hang?: boolean;
}

export interface ReceivedAlert {
  /** The parsed JSON body. */
  payload: { username?: string; content?: string; allowed_mentions?: { parse?: unknown[] } } & Record<string, unknown>;
  raw: string;
  headers: http.IncomingHttpHeaders;
  at: number;
  /** The status this request was answered with (undefined while hanging). */
  status?: number;
}

export class FakeDiscord {
  readonly received: ReceivedAlert[] = [];
  private readonly answers: DiscordAnswer[] = [];
  private readonly waiters = new Waiters('FakeDiscord');
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(
    private readonly server: http.Server,
    readonly id: string,
    readonly token: string,
  ) {}

  static async start(options: { id?: string; token?: string } = {}): Promise<FakeDiscord> {
    const server = http.createServer();
    const fake = new FakeDiscord(server, options.id ?? '112233445566778899', options.token ?? 'dscWebhookTok3n_abcdefghijklmnop-XYZ');
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** Pass as DISCORD_WEBHOOK_URL. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/webhooks/${this.id}/${this.token}`;
  }

  /** The next request(s) get these answers, in order; afterwards 204 again. */
  answerNext(...answers: DiscordAnswer[]): void {
    this.answers.push(...answers);
  }

  /** Contents of the alerts answered with 2xx, in order. */
  get delivered(): string[] {
    return this.received.filter((r) => r.status !== undefined && r.status < 300).map((r) => r.payload.content ?? '');
  }

  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return this.waiters.waitFor(predicate, timeoutMs, what);
  }


  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const match = /^\/api\/webhooks\/([^/]+)\/([^/?]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'POST' || !match) return this.answer(res, undefined, { status: 405, body: { message: '405: Method Not Allowed', code: 0 } });
    let payload: ReceivedAlert['payload'];
    try {
      payload = JSON.parse(raw) as ReceivedAlert['payload'];
    } catch {
      return this.answer(res, undefined, { status: 400, body: { message: 'The request body contains invalid JSON.', code: 50109 } });
    }
    const record: ReceivedAlert = { payload, raw, headers: req.headers, at: Date.now() };
    this.received.push(record);
    if (match[1] !== this.id || match[2] !== this.token) {
      return this.answer(res, record, { status: 401, body: { message: 'Invalid Webhook Token', code: 50027 } });
    }
    const content = payload.content ?? '';
    if (content.length > 2000) {
      return this.answer(res, record, { status: 400, body: { content: ['Must be 2000 or fewer in length.'] } });
    }
    this.answer(res, record, this.answers.shift() ?? { status: 204 });
  }

  private answer(res: http.ServerResponse, record: ReceivedAlert | undefined, answer: DiscordAnswer): void {
    if (answer.hang) {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      this.notify();
      return;
    }
    if (record) record.status = answer.status;
    const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, { ...(text ? { 'content-type': 'application/json' } : {}), ...answer.headers });
    res.end(answer.status === 204 ? undefined : text);
    this.notify();
  }

  private notify(): void {
    this.waiters.check();
  }
}
