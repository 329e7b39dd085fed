import type { Alerter } from '../alerts/alerter.js';
import type { AuditEntry } from '../observability/audit.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseCommand, runCommand } from '../router/commands.js';
import type { IntentRouter, RouteContext, RouteReply } from '../router/types.js';
import type { SkillResult, SkillRunner } from '../skills/types.js';
import { SkillgateError } from '../errors.js';
import { TelegramApiError } from '../telegram/errors.js';
import { updateSchema, type CallbackQuery, type IncomingMessage } from '../telegram/update-schema.js';
import type { HealthAlerts } from './health-alerts.js';
import { keepTyping } from './typing-indicator.js';
import { UnauthorizedTracker } from './unauthorized-tracker.js';

/** The Bot API calls the pipeline makes. */
export interface ReplySender {
  sendMessage(chatId: number, text: string, extra?: { reply_markup?: object }): Promise<unknown>;
  sendChatAction(chatId: number, action?: 'typing'): Promise<unknown>;
  answerCallbackQuery(id: string, text?: string): Promise<unknown>;
}

/** Gate for skills marked requires_approval (src/gateway/approvals.ts). */
export interface ApprovalGate {
  request(input: { chatId: number; userId: number; skill: string; args: unknown }): Promise<SkillResult>;
  handleCallback(query: CallbackQuery): Promise<void>;
}

export interface AuditSink {
  write(entry: AuditEntry): void;
}

/** One audit line; `outcome` is one of these for the lines the pipeline writes. */
export type AuditRecord = AuditEntry & { outcome: 'replied' | 'unauthorized' | 'ignored' | 'reply_rejected' | 'failed' };

/** Telegram refused the reply for good (blocked, chat gone): handled, nothing to retry. */
class ReplyRejected extends Error {}

export interface UpdateHandlerDeps {
  allowedUserIds: ReadonlySet<number>;
  /** This bot's username (from getMe): `/cmd@other_bot` in a group is not for us. */
  botUsername?: string;
  api: ReplySender;
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
const PREVIEW_CHARS = 120;

/**
 * Builds the handler the inbox dispatcher calls for each update: allowlist, then commands or the
 * router, skills through the approval gate, the reply, the audit line. A failure that retrying
 * can fix (Telegram unreachable) is thrown so the dispatcher retries; one that it cannot fix
 * (the user blocked the bot) is logged and audited, not retried.
 */
export function createUpdateHandler(deps: UpdateHandlerDeps) {
  const { logger, metrics } = deps;
  const unauthorized = new UnauthorizedTracker(deps.alerter);

  async function runSkill(chatId: number, userId: number, name: string, args: unknown): Promise<SkillResult> {
    const info = deps.skills.get(name);
    if (info?.requiresApproval && deps.approvals) {
      // Bad arguments are refused now: nobody should approve a call that cannot run.
      const refusal = deps.skills.precheck?.(name, args);
      if (refusal) return { skill: name, outcome: 'invalid_args', ok: false, output: refusal, truncated: false, durationMs: 0 };
      logger.info({ chatId, skill: name }, 'Skill requires approval; asking the user');
      return deps.approvals.request({ chatId, userId, skill: name, args });
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
    if (userId === undefined || !deps.allowedUserIds.has(userId)) {
      logger.warn({ userId: userId ?? null, chatId }, `Security Filter: Unauthorized request from user_id: ${userId ?? 'unknown'}`);
      if (userId !== undefined) unauthorized.record(userId);
      audit.outcome = 'unauthorized';
      return;
    }
    if (message.text === undefined) {
      await reply(chatId, TEXT_ONLY_REPLY, journal);
      audit.kind = 'non_text';
      return;
    }
    const text = message.text;
    audit.text_preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
    logger.info({ updateId, userId, chatId, chars: text.length }, `Received message from user_id: ${userId}`);

    // "typing…" only where work can take a while (a skill, the model): a command that answers at
    // once does not need it, and each indicator is one more Bot API call.
    let stopTyping: (() => void) | undefined;
    const startTyping = () => {
      stopTyping ??= keepTyping((id) => deps.api.sendChatAction(id, 'typing'), chatId, logger);
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
          return runSkill(chatId, userId, name, args);
        },
      };
      const command = parseCommand(text);
      if (command?.mention && deps.botUsername && command.mention.toLowerCase() !== deps.botUsername.toLowerCase()) {
        logger.debug({ updateId, mention: command.mention }, 'Command addressed to another bot; ignored');
        audit.outcome = 'ignored';
        return;
      }
      audit.route = command ? `command:/${command.name}` : deps.router.kind;
      logger.info({ updateId, route: audit.route }, 'Message routed');
      if (!command && deps.router.kind === 'llm') startTyping();
      answer = command ? await runCommand(command, ctx, deps.router) : await deps.router.route(ctx);
    } finally {
      stopTyping?.();
    }
    audit.skills = answer.skills;
    if (answer.alreadySent) journal.markReplied();
    else await reply(chatId, answer.text, journal);
  }

  async function handleCallback(query: CallbackQuery, audit: AuditRecord) {
    audit.kind = 'callback_query';
    audit.user_id = query.from.id;
    audit.chat_id = query.message?.chat.id ?? null;
    if (!deps.allowedUserIds.has(query.from.id)) {
      logger.warn({ userId: query.from.id }, `Security Filter: Unauthorized request from user_id: ${query.from.id}`);
      unauthorized.record(query.from.id);
      audit.outcome = 'unauthorized';
      return;
    }
    if (!deps.approvals) {
      await deps.api.answerCallbackQuery(query.id, 'Nothing to do.');
      audit.outcome = 'ignored';
      return;
    }
    await deps.approvals.handleCallback(query);
  }

  async function reply(chatId: number, text: string, journal: ReplyJournal) {
    if (deps.shutdownSignal?.aborted) {
      // The work was cut short by shutdown: its answer ("cancelled") is not the real one. Throw,
      // so the update stays in the store and is handled properly after the restart.
      throw new SkillgateError('SG_SHUTTING_DOWN', 'Shutdown interrupted this update; it will be handled again after the restart');
    }
    try {
      await deps.api.sendMessage(chatId, text);
      journal.markReplied();
      deps.health?.telegramSendSucceeded();
      logger.info({ chatId, chars: text.length }, 'Reply dispatched');
    } catch (err) {
      // 4xx other than 429: the chat is gone or blocked us; retrying would only repeat it.
      if (err instanceof TelegramApiError && err.errorCode >= 400 && err.errorCode < 500 && err.errorCode !== 429) {
        logger.error({ chatId, err: err.message }, 'Reply rejected by Telegram; not retrying');
        throw new ReplyRejected(err.message);
      }
      deps.health?.telegramSendFailed((err as Error).message);
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
        await handleCallback(parsed.data.callback_query, audit);
      } else {
        // Edits, channel posts, member updates...: accepted and deliberately ignored.
        audit.outcome = 'ignored';
        logger.debug({ updateId: update.updateId }, 'Update type ignored');
      }
    } catch (err) {
      if (err instanceof ReplyRejected) {
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
