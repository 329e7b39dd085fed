import type { Alerter } from '../alerts/alerter.js';
import { ReplyRejectedError } from '../errors.js';
import type { AuditRecord } from '../observability/audit-record.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { IntentRouter } from '../router/types.js';
import type { SkillRunner } from '../skills/types.js';
import { updateSchema, type CallbackQuery, type IncomingMessage } from '../telegram/update-schema.js';
import type { BotIdentity } from './addressing.js';
import { AnsweredAlbums } from './albums.js';
import { Allowlist } from './allowlist.js';
import { answerText } from './answer-text.js';
import { UpdateAudit, type AuditSink } from './audit.js';
import type { ChatMigrations } from './chat-migrations.js';
import type { HealthAlerts } from './health-alerts.js';
import { judge } from './intake-filter.js';
import { ReplyPath, type ReplyApi } from './reply-path.js';
import { ReplyStage, type ReplyJournal } from './reply.js';
import { recordUnhandled } from './unhandled-type.js';
import type { ApprovalGate } from './skill-gate.js';

/** The Bot API calls the pipeline makes. */
export interface ReplySender extends ReplyApi {
  answerCallbackQuery(id: string, text?: string): Promise<unknown>;
}

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

const TEXT_ONLY_REPLY = 'I only understand text messages for now. Send me a message in words, or /help.';
const FORWARDED_REPLY = 'That is a forwarded message, so I did not act on it. To run something, type it yourself.';

/**
 * Builds the handler the inbox dispatcher calls for each update. The pipeline: parse, the intake
 * rules and the allowlist, then a command or the router (skills through the approval gate), the
 * reply, the audit line. A failure that retrying can fix (Telegram unreachable) is thrown so the
 * dispatcher retries; one that it cannot fix (the user blocked the bot) is logged and audited.
 */
export function createUpdateHandler(deps: UpdateHandlerDeps) {
  const { logger } = deps;
  const allowlist = new Allowlist(deps);
  const albums = new AnsweredAlbums();
  const bot: BotIdentity = deps.bot ?? { id: undefined, username: deps.botUsername };
  const path = deps.replies ?? new ReplyPath({ api: deps.api, logger, health: deps.health, migrations: deps.migrations });
  const replies = new ReplyStage({ replies: path, logger, shutdownSignal: deps.shutdownSignal });
  const textDeps = { ...deps, replies };

  async function onMessage(updateId: number, message: IncomingMessage, journal: ReplyJournal, audit: AuditRecord) {
    const chatId = message.chat.id;
    const userId = message.from?.id;
    Object.assign(audit, { kind: 'message', chat_id: chatId, user_id: userId ?? null });
    const verdict = judge(message, { allowlist, bot });
    switch (verdict.action) {
      case 'ignore':
        logger.debug({ updateId, chatId, userId: userId ?? null, why: verdict.why }, 'Message ignored');
        Object.assign(audit, { kind: verdict.kind, outcome: 'ignored' });
        return;
      case 'migrate':
        Object.assign(audit, { kind: 'migration', outcome: 'ignored' });
        await migrate(verdict.from, verdict.to);
        return;
      case 'unauthorized':
        allowlist.refuse(userId, chatId);
        audit.outcome = 'unauthorized';
        return;
      case 'forwarded':
        audit.kind = 'forwarded';
        await replies.answer(verdict.target, FORWARDED_REPLY, journal);
        return;
      case 'non_text':
        audit.kind = 'non_text';
        if (message.media_group_id !== undefined && !albums.first(chatId, message.media_group_id)) {
          audit.outcome = 'ignored';
          return;
        }
        await replies.answer(verdict.target, TEXT_ONLY_REPLY, journal);
        return;
      case 'handle': {
        const answer = await answerText({ updateId, target: verdict.target, userId: verdict.userId, text: verdict.text }, textDeps, audit);
        if (answer === undefined) journal.markReplied();
        else await replies.answer(verdict.target, answer, journal);
      }
    }
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

  async function onCallback(query: CallbackQuery, journal: ReplyJournal, audit: AuditRecord) {
    Object.assign(audit, { kind: 'callback_query', user_id: query.from.id, chat_id: query.message?.chat.id ?? null });
    const verdict = allowlist.judgeTap(query);
    if (verdict !== 'allowed' || !deps.approvals) {
      // Answered all the same, so the client stops spinning; the answer says nothing.
      await answerQuietly(query.id);
      audit.outcome = verdict === 'unauthorized' ? 'unauthorized' : 'ignored';
      return;
    }
    // The approved run (or the denial) is answered like any message: journaled, classified.
    const decision = await deps.approvals.handleCallback(query);
    if (decision) await replies.send(decision.target, decision.text, journal);
  }

  async function answerQuietly(id: string) {
    try {
      await deps.api.answerCallbackQuery(id);
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'answerCallbackQuery failed');
    }
  }

  return async function handleUpdate(update: HandledUpdate, journal: ReplyJournal): Promise<void> {
    const audit = new UpdateAudit(update.updateId, deps.audit, deps.metrics);
    const parsed = updateSchema.safeParse(update.payload);
    try {
      if (parsed.success && parsed.data.message) await onMessage(update.updateId, parsed.data.message, journal, audit.record);
      else if (parsed.success && parsed.data.callback_query) await onCallback(parsed.data.callback_query, journal, audit.record);
      // Edits, channel posts, member updates...: accepted and deliberately ignored (the webhook
      // decides most of them at intake; these came by polling, from an older run, or malformed).
      else recordUnhandled(audit.record, logger);
    } catch (err) {
      if (err instanceof ReplyRejectedError) return audit.failed('reply_rejected', err);
      audit.failed('failed', err);
      throw err;
    } finally {
      audit.finish();
    }
  };
}
