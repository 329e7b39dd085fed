import type { Alerter } from '../alerts/alerter.js';
import type { AuditEntry } from '../observability/audit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseCommand, runCommand } from '../router/commands.js';
import type { IntentRouter, RouteContext, RouteReply } from '../router/types.js';
import type { SkillResult, SkillRunner } from '../skills/types.js';
import { ReplyRejectedError, SkillgateError } from '../errors.js';
import { updateSchema, type CallbackQuery, type IncomingMessage } from '../telegram/update-schema.js';
import type { BotIdentity } from './addressing.js';
import { AnsweredAlbums } from './albums.js';
import type { ChatMigrations } from './chat-migrations.js';
import type { HealthAlerts } from './health-alerts.js';
import { judge } from './intake-filter.js';
import { isPermanent, ReplyPath, type ReplyApi, type ReplyTarget } from './reply-path.js';
import { UnauthorizedTracker } from './unauthorized-tracker.js';

/** The Bot API calls the pipeline makes. */
export interface ReplySender extends ReplyApi {
  answerCallbackQuery(id: string, text?: string): Promise<unknown>;
}

/** Gate for skills marked requires_approval (src/gateway/approvals.ts). */
export interface ApprovalGate {
  request(input: { chatId: number; userId: number; skill: string; args: unknown; threadId?: number; replyTo?: number }): Promise<SkillResult>;
  handleCallback(query: CallbackQuery, journal?: ReplyJournal): Promise<void>;
  /** The group became a supergroup: pending approvals follow it. */
  migrate?(from: number, to: number): void;
}

export interface AuditSink {
  write(entry: AuditEntry): void;
}

/** One audit line; `outcome` is one of these for the lines the pipeline writes. */
export type AuditRecord = AuditEntry & { outcome: 'replied' | 'unauthorized' | 'ignored' | 'reply_rejected' | 'failed' };

export interface UpdateHandlerDeps {
  allowedUserIds: ReadonlySet<number>;
  /** Groups the bot works in (TELEGRAM_ALLOWED_CHAT_IDS). Default none: groups are ignored. */
  allowedChatIds?: ReadonlySet<number>;
  /** Who this bot is; read at every message, so a username learned late (getMe retried) counts at once. */
  bot?: BotIdentity;
  /** Shorthand for `bot` when the username is known up front (tests). */
  botUsername?: string;
  api: ReplySender;
  /** Default: a ReplyPath over `api`. */
  replies?: ReplyPath;
  migrations?: ChatMigrations;
  router: IntentRouter;
  skills: SkillRunner;
  approvals?: ApprovalGate;
  audit?: AuditSink;
  alerter: Alerter;
  /** Streak alerts for skills and Telegram sends. */
  health?: HealthAlerts;
  logger: Logger;
  metrics?: Metrics;
  /** Aborted at shutdown: long LLM turns give up instead of holding the process. */
  shutdownSignal?: AbortSignal;
}

/** What the inbox hands over: one stored update. */
export interface HandledUpdate {
  updateId: number;
  payload: unknown;
}

export interface ReplyJournal {
  /** Record that the reply went out, so a replay after a crash does not send it again. */
  markReplied(): void;
}

const TEXT_ONLY_REPLY = 'I only understand text messages for now. Send me a message in words, or /help.';
const FORWARDED_REPLY = 'That is a forwarded message, so I did not act on it. To run something, type it yourself.';
const PREVIEW_CHARS = 120;

/**
 * Builds the handler the inbox dispatcher calls for each update: the intake rules (groups,
 * allowlist, addressing, forwards), then commands or the router, skills through the approval gate,
 * the reply, the audit line. A failure that retrying can fix (Telegram unreachable) is thrown so
 * the dispatcher retries; one that it cannot fix (the user blocked the bot) is logged and audited.
 */
export function createUpdateHandler(deps: UpdateHandlerDeps) {
  const { logger, metrics } = deps;
  const unauthorized = new UnauthorizedTracker(deps.alerter);
  const albums = new AnsweredAlbums();
  const bot: BotIdentity = deps.bot ?? { id: undefined, username: deps.botUsername };
  const replies = deps.replies ?? new ReplyPath({ api: deps.api, logger, health: deps.health, migrations: deps.migrations });
  const rules = () => ({
    allowedUserIds: deps.allowedUserIds,
    allowedChatIds: deps.allowedChatIds ?? new Set<number>(),
    bot,
    migrations: deps.migrations,
    logger,
  });

  async function runSkill(target: ReplyTarget, userId: number, name: string, args: unknown): Promise<SkillResult> {
    const info = deps.skills.get(name);
    if (info?.requiresApproval && deps.approvals) {
      // Bad arguments are refused now: nobody should approve a call that cannot run.
      const refusal = deps.skills.precheck?.(name, args);
      if (refusal) return { skill: name, outcome: 'invalid_args', ok: false, output: refusal, truncated: false, durationMs: 0 };
      logger.info({ chatId: target.chatId, skill: name }, 'Skill requires approval; asking the user');
      return deps.approvals.request({ chatId: target.chatId, userId, skill: name, args, threadId: target.threadId, replyTo: target.replyTo });
    }
    const result = await deps.skills.run(name, args, { signal: deps.shutdownSignal });
    deps.health?.skillFinished(result);
    return result;
  }

  async function handleMessage(updateId: number, message: IncomingMessage, journal: ReplyJournal, audit: AuditRecord) {
    const chatId = message.chat.id;
    const userId = message.from?.id;
    audit.chat_id = chatId;
    audit.user_id = userId ?? null;
    const verdict = judge(message, rules());
    switch (verdict.action) {
      case 'ignore':
        logger.debug({ updateId, chatId, userId: userId ?? null, why: verdict.why }, 'Message ignored');
        audit.kind = verdict.kind;
        audit.outcome = 'ignored';
        return;
      case 'migrate':
        audit.kind = 'migration';
        audit.outcome = 'ignored';
        await migrate(verdict.from, verdict.to);
        return;
      case 'unauthorized':
        logger.warn({ userId: userId ?? null, chatId }, `Security Filter: Unauthorized request from user_id: ${userId ?? 'unknown'}`);
        if (userId !== undefined) unauthorized.record(userId);
        audit.outcome = 'unauthorized';
        return;
      case 'forwarded':
        audit.kind = 'forwarded';
        await reply(verdict.target, FORWARDED_REPLY, journal);
        return;
      case 'non_text':
        audit.kind = 'non_text';
        if (message.media_group_id !== undefined && !albums.first(chatId, message.media_group_id)) {
          audit.outcome = 'ignored';
          return;
        }
        await reply(verdict.target, TEXT_ONLY_REPLY, journal);
        return;
      case 'handle':
        await handleText(updateId, verdict.target, verdict.userId, verdict.text, journal, audit);
    }
  }

  async function handleText(updateId: number, target: ReplyTarget, userId: number, text: string, journal: ReplyJournal, audit: AuditRecord) {
    const { chatId } = target;
    audit.text_preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
    logger.info({ updateId, userId, chatId, chars: text.length }, `Received message from user_id: ${userId}`);

    // "typing…" only where work can take a while (a skill, the model): a command that answers at
    // once does not need it, and each indicator is one more Bot API call.
    let stopTyping: (() => void) | undefined;
    const startTyping = () => {
      stopTyping ??= replies.typing(target);
    };
    let answer: RouteReply;
    try {
      const ctx: RouteContext = {
        chatId,
        userId,
        text,
        signal: deps.shutdownSignal ?? new AbortController().signal,
        skills: () => deps.skills.list(),
        runSkill: (name, args) => {
          startTyping();
          return runSkill(target, userId, name, args);
        },
      };
      const command = parseCommand(text);
      audit.route = command ? `command:/${command.name}` : deps.router.kind;
      logger.info({ updateId, route: audit.route }, 'Message routed');
      if (!command && deps.router.kind === 'llm') startTyping();
      answer = command ? await runCommand(command, ctx, deps.router) : await deps.router.route(ctx);
    } finally {
      stopTyping?.();
    }
    audit.skills = answer.skills;
    if (answer.alreadySent) journal.markReplied();
    else await reply(target, answer.text, journal);
  }

  /** Moves what the gateway keeps per chat to the supergroup's id (the app wires the parts to `migrations`). */
  async function migrate(from: number, to: number) {
    if (deps.migrations) {
      await deps.migrations.record(from, to);
      return;
    }
    deps.approvals?.migrate?.(from, to);
    await deps.router.migrate?.(from, to);
  }

  async function handleCallback(query: CallbackQuery, journal: ReplyJournal, audit: AuditRecord) {
    audit.kind = 'callback_query';
    audit.user_id = query.from.id;
    const chat = query.message?.chat;
    audit.chat_id = chat?.id ?? null;
    const inGroup = chat?.type === 'group' || chat?.type === 'supergroup';
    const chatAllowed = !inGroup || (deps.migrations?.isAmong(chat.id, deps.allowedChatIds ?? new Set()) ?? deps.allowedChatIds?.has(chat.id) ?? false);
    if (!deps.allowedUserIds.has(query.from.id) || !chatAllowed) {
      // Answered all the same, so the client stops spinning; the answer says nothing.
      await answerQuietly(query.id);
      audit.outcome = inGroup ? 'ignored' : 'unauthorized';
      if (inGroup) {
        logger.debug({ userId: query.from.id, chatId: chat.id }, 'Button tap in a group by someone not allowed; answered, ignored');
        return;
      }
      logger.warn({ userId: query.from.id }, `Security Filter: Unauthorized request from user_id: ${query.from.id}`);
      unauthorized.record(query.from.id);
      return;
    }
    if (!deps.approvals) {
      await answerQuietly(query.id);
      audit.outcome = 'ignored';
      return;
    }
    await deps.approvals.handleCallback(query, journal);
  }

  async function answerQuietly(id: string) {
    try {
      await deps.api.answerCallbackQuery(id);
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'answerCallbackQuery failed');
    }
  }

  async function reply(target: ReplyTarget, text: string, journal: ReplyJournal) {
    if (deps.shutdownSignal?.aborted) {
      // The work was cut short by shutdown: its answer ("cancelled") is not the real one. Throw,
      // so the update stays in the store and is handled properly after the restart.
      throw new SkillgateError('SG_SHUTTING_DOWN', 'Shutdown interrupted this update; it will be handled again after the restart');
    }
    try {
      await replies.send(target, text);
      journal.markReplied();
    } catch (err) {
      if (isPermanent(err)) {
        logger.error({ chatId: target.chatId, err: (err as Error).message }, 'Reply rejected by Telegram; not retrying');
        throw new ReplyRejectedError(target.chatId, (err as Error).message, { cause: err });
      }
      throw err;
    }
  }

  return async function handleUpdate(update: HandledUpdate, journal: ReplyJournal): Promise<void> {
    const started = performance.now();
    const audit: AuditRecord = {
      ts: new Date().toISOString(),
      update_id: update.updateId,
      chat_id: null,
      user_id: null,
      kind: 'other',
      skills: [],
      outcome: 'replied',
      duration_ms: 0,
    };
    const parsed = updateSchema.safeParse(update.payload);
    try {
      if (parsed.success && parsed.data.message) {
        audit.kind = 'message';
        await handleMessage(update.updateId, parsed.data.message, journal, audit);
      } else if (parsed.success && parsed.data.callback_query) {
        await handleCallback(parsed.data.callback_query, journal, audit);
      } else {
        // Edits, channel posts, member updates...: accepted and deliberately ignored.
        audit.outcome = 'ignored';
        logger.debug({ updateId: update.updateId }, 'Update type ignored');
      }
    } catch (err) {
      if (err instanceof ReplyRejectedError) {
        audit.outcome = 'reply_rejected';
        audit.error = err.message;
        return;
      }
      audit.outcome = 'failed';
      audit.error = (err as Error).message;
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      audit.duration_ms = Math.round(seconds * 1000);
      metrics?.processingSeconds.observe(seconds);
      metrics?.updates.inc({ outcome: audit.outcome === 'replied' ? 'processed' : audit.outcome });
      // A failed attempt is retried; the dispatcher writes the line once the update is final.
      if (audit.outcome !== 'failed') deps.audit?.write(audit);
    }
  };
}
