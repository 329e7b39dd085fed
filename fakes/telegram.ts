import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { Waiters } from './waiters.js';

/**
 * A loopback imitation of the Telegram Bot API, honest about the parts the gateway relies on:
 * the /bot<token>/<method> URL shape, the ok/result/error_code envelope, 401 for a wrong token,
 * 409 for getUpdates while a webhook is set or when a second getUpdates ends the one still held
 * (two bot instances polling), 400 for an over-long message, long polling, and
 * webhook delivery that POSTs updates with the X-Telegram-Bot-Api-Secret-Token header, verifying
 * TLS against the uploaded self-signed certificate as Telegram does.
 */

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
  /**
   * The path segment before /bot<token>, when the caller's TELEGRAM_API_BASE has one
   * (http://127.0.0.1:port/replica-a): tells apart several gateway processes sharing this fake.
   */
  client?: string;
}

export interface Fault {
  status: number;
  body?: object;
  /** Close the socket without answering (a dropped connection). */
  drop?: boolean;
}

export interface WebhookRegistration {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
  max_connections?: number;
  ip_address?: string;
  certificate?: string;
}

export interface SentMessage {
  chat_id: number;
  text: string;
  message_id: number;
  reply_markup?: unknown;
  reply_parameters?: { message_id: number; allow_sending_without_reply?: boolean };
  message_thread_id?: number;
  link_preview_options?: { is_disabled?: boolean };
}

export interface FakeTelegramOptions {
  token: string;
  username?: string;
}

export class FakeTelegram {
  readonly calls: RecordedCall[] = [];
  /** Every sendMessage accepted, in order, with the parameters that say where and how it went. */
  readonly sent: SentMessage[] = [];
  /** Groups upgraded to supergroups: sends to the old id fail as Telegram's do. */
  private readonly migrated = new Map<number, number>();
  webhook: WebhookRegistration | undefined;
  setWebhookCount = 0;
  /** getUpdates calls ended with 409 because another getUpdates came in while they were held. */
  pollConflicts = 0;
  /** Answer getUpdates at once instead of holding it (a proxy that cuts long polls short). */
  answerPollsAtOnce = false;
  private readonly faults = new Map<string, Fault[]>();
  private readonly queue: Array<Record<string, unknown>> = [];
  private readonly pollers = new Set<() => void>();
  /** The long poll being held now; a second getUpdates ends it with 409, as Telegram does. */
  private heldPoll: { superseded: boolean; wake: () => void } | undefined;
  private readonly waiters = new Waiters('FakeTelegram');
  private messageId = 1;
  private nextUpdate = 1;
  private deliveryAgent: Agent | undefined;

  private constructor(
    private readonly server: http.Server,
    readonly token: string,
    private readonly username: string,
  ) {}

  static async start(options: FakeTelegramOptions): Promise<FakeTelegram> {
    const server = http.createServer();
    const fake = new FakeTelegram(server, options.token, options.username ?? 'skillgate_demo_bot');
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** Pass as TELEGRAM_API_BASE. */
  get apiBase(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next call(s) to `method` fail this way, in order. */
  failNext(method: string, ...faults: Fault[]): void {
    this.faults.set(method, [...(this.faults.get(method) ?? []), ...faults]);
  }

  /** The group `from` became supergroup `to`: sendMessage to `from` now answers 400 with migrate_to_chat_id. */
  migrateChat(from: number, to: number): void {
    this.migrated.set(from, to);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves when `predicate` holds (checked after every call), or rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return this.waiters.waitFor(predicate, timeoutMs, what);
  }


  /** Waits until at least `count` messages were sent (optionally to one chat). */
  waitForMessages(count: number, timeoutMs = 10_000, chatId?: number) {
    const matching = () => this.sent.filter((m) => chatId === undefined || m.chat_id === chatId);
    return this.waitFor(() => matching().length >= count, timeoutMs, `${count} sent messages`).then(matching);
  }

  /** A private-chat text message update, as Telegram builds it. */
  textUpdate(from: { id: number; first_name?: string; username?: string }, text: string, chatId = from.id) {
    const updateId = this.nextUpdate++;
    return {
      update_id: updateId,
      message: {
        message_id: updateId,
        from: { id: from.id, is_bot: false, first_name: from.first_name ?? 'User', username: from.username },
        chat: { id: chatId, type: 'private', first_name: from.first_name ?? 'User' },
        date: Math.floor(Date.now() / 1000),
        text,
        ...(text.startsWith('/') ? { entities: [{ offset: 0, length: text.split(' ')[0]!.length, type: 'bot_command' }] } : {}),
      },
    };
  }

  /** Queues an update for getUpdates (polling mode). */
  enqueueUpdate(update: Record<string, unknown>): void {
    this.queue.push(update);
    for (const wake of this.pollers) wake();
  }

  /**
   * Delivers one update to the registered webhook exactly as Telegram does: POST, JSON, the
   * secret header, TLS verified against the uploaded certificate (or the system CAs).
   */
  async pushUpdate(update: object, options: { secret?: string } = {}): Promise<{ status: number; body: string }> {
    if (!this.webhook) throw new Error('FakeTelegram: no webhook registered (call setWebhook first)');
    const secret = options.secret ?? this.webhook.secret_token;
    const res = await request(this.webhook.url, {
      method: 'POST',
      dispatcher: this.agent(),
      headers: {
        'content-type': 'application/json',
        ...(secret !== undefined ? { 'x-telegram-bot-api-secret-token': secret } : {}),
      },
      body: JSON.stringify(update),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  async close(): Promise<void> {
    for (const wake of this.pollers) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.deliveryAgent?.close();
  }

  private agent(): Agent {
    this.deliveryAgent ??= new Agent({
      connect: this.webhook?.certificate ? { ca: this.webhook.certificate } : {},
    });
    return this.deliveryAgent;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const match = /^(?:\/([\w-]+))?\/bot([^/]+)\/([A-Za-z]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!match) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, client, token, method] = match as unknown as [string, string | undefined, string, string];
    if (token !== this.token) return reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const params = await readParams(req);
    this.calls.push({ method, params, at: Date.now(), ...(client !== undefined ? { client } : {}) });
    try {
      const fault = this.faults.get(method)?.shift();
      if (fault?.drop) {
        req.socket.destroy();
        return;
      }
      if (fault) {
        return reply(res, fault.status, fault.body ?? { ok: false, error_code: fault.status, description: 'Injected fault' });
      }
      const [status, body] = await this.dispatch(method, params);
      reply(res, status, body);
    } finally {
      this.waiters.check();
    }
  }

  private async dispatch(method: string, p: Record<string, unknown>): Promise<[number, object]> {
    const ok = (result: unknown): [number, object] => [200, { ok: true, result }];
    const bad = (description: string, code = 400): [number, object] => [code, { ok: false, error_code: code, description }];
    switch (method) {
      case 'getMe':
        return ok(this.me());
      case 'setWebhook': {
        this.setWebhookCount++;
        if (typeof p.url !== 'string' || p.url === '') {
          this.webhook = undefined;
          return ok(true);
        }
        if (!p.url.startsWith('https://')) return bad('Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
        this.webhook = {
          url: p.url,
          secret_token: p.secret_token as string | undefined,
          allowed_updates: parseMaybeJson(p.allowed_updates) as string[] | undefined,
          max_connections: p.max_connections === undefined ? 40 : Number(p.max_connections),
          ip_address: p.ip_address as string | undefined,
          certificate: p.certificate as string | undefined,
        };
        if (parseMaybeJson(p.drop_pending_updates) === true) this.queue.length = 0;
        void this.deliveryAgent?.close();
        this.deliveryAgent = undefined;
        return ok(true);
      }
      case 'deleteWebhook':
        this.webhook = undefined;
        if (parseMaybeJson(p.drop_pending_updates) === true) this.queue.length = 0;
        return ok(true);
      case 'getWebhookInfo':
        return ok({
          url: this.webhook?.url ?? '',
          has_custom_certificate: this.webhook?.certificate !== undefined,
          pending_update_count: this.queue.length,
          ...(this.webhook
            ? { max_connections: this.webhook.max_connections, allowed_updates: this.webhook.allowed_updates }
            : {}),
          ...(this.webhook?.ip_address ? { ip_address: this.webhook.ip_address } : {}),
        });
      case 'getUpdates': {
        if (this.webhook) {
          return bad("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 409);
        }
        const updates = await this.longPoll(Number(p.offset ?? 0), Number(p.timeout ?? 0), Number(p.limit ?? 100));
        if (updates === 'superseded') {
          this.pollConflicts++;
          return bad('Conflict: terminated by other getUpdates request; make sure that only one bot instance is running', 409);
        }
        return ok(updates);
      }
      case 'sendMessage': {
        const text = typeof p.text === 'string' ? p.text : '';
        if (typeof p.chat_id !== 'number' && typeof p.chat_id !== 'string') return bad('Bad Request: chat_id is empty');
        if (text.trim() === '') return bad('Bad Request: message text is empty');
        if (text.length > 4096) return bad('Bad Request: message is too long');
        const movedTo = this.migrated.get(Number(p.chat_id));
        if (movedTo !== undefined) {
          return [400, { ok: false, error_code: 400, description: 'Bad Request: group chat was upgraded to a supergroup chat', parameters: { migrate_to_chat_id: movedTo } }];
        }
        const message = { message_id: this.messageId++, from: this.me(), chat: { id: Number(p.chat_id) }, date: Math.floor(Date.now() / 1000), text };
        this.sent.push({
          chat_id: Number(p.chat_id),
          text,
          message_id: message.message_id,
          reply_markup: parseMaybeJson(p.reply_markup),
          ...(p.reply_parameters !== undefined ? { reply_parameters: parseMaybeJson(p.reply_parameters) as SentMessage['reply_parameters'] } : {}),
          ...(p.message_thread_id !== undefined ? { message_thread_id: Number(p.message_thread_id) } : {}),
          ...(p.link_preview_options !== undefined ? { link_preview_options: parseMaybeJson(p.link_preview_options) as SentMessage['link_preview_options'] } : {}),
        });
        return ok(message);
      }
      case 'sendChatAction':
      case 'answerCallbackQuery':
        return ok(true);
      case 'editMessageReplyMarkup':
        return ok({ message_id: Number(p.message_id), chat: { id: Number(p.chat_id) } });
      default:
        return bad('Not Found: method not found', 404);
    }
  }

  private me() {
    return { id: Number(this.token.split(':')[0]), is_bot: true, first_name: 'Skillgate Demo', username: this.username };
  }

  private async longPoll(offset: number, timeoutS: number, limit: number): Promise<object[] | 'superseded'> {
    if (this.heldPoll) {
      this.heldPoll.superseded = true;
      this.heldPoll.wake();
    }
    // Confirmed updates (below offset) are forgotten, as Telegram does.
    while (this.queue.length > 0 && Number(this.queue[0]!.update_id) < offset) this.queue.shift();
    if (this.queue.length === 0 && timeoutS > 0 && !this.answerPollsAtOnce) {
      const held = { superseded: false, wake: () => {} };
      this.heldPoll = held;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.pollers.delete(wake);
          resolve();
        };
        held.wake = wake;
        const timer = setTimeout(wake, Math.min(timeoutS, 50) * 1000);
        this.pollers.add(wake);
      });
      if (this.heldPoll === held) this.heldPoll = undefined;
      if (held.superseded) return 'superseded';
    }
    return this.queue.slice(0, Math.max(1, Math.min(limit, 100)));
  }
}

function reply(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Telegram accepts JSON, urlencoded and multipart bodies, and query parameters. */
async function readParams(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const type = req.headers['content-type'] ?? '';
  const query = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
  if (raw.length === 0) return query;
  if (type.startsWith('application/json')) return { ...query, ...(JSON.parse(raw.toString('utf8')) as object) };
  if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const out: Record<string, unknown> = { ...query };
    for (const [key, value] of form.entries()) {
      out[key] = typeof value === 'string' ? value : await value.text();
    }
    return out;
  }
  return query;
}
