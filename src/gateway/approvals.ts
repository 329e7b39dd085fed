import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import { formatSkillResult } from '../router/format.js';
import { revealInvisible } from '../security/visible-text.js';
import type { SkillResult, SkillRunner } from '../skills/types.js';
import type { SendExtra } from '../telegram/api-client.js';
import type { CallbackQuery } from '../telegram/update-schema.js';
import { extraFor, type ReplyTarget } from './reply-path.js';
import { ApprovalFile, type ApprovalRecords, type PendingApproval } from './approval-records.js';

/** The Bot API calls the approval flow makes (a subset of TelegramApi). */
export interface ApprovalApi {
  sendMessage(chatId: number, text: string, extra?: SendExtra): Promise<Array<{ message_id: number }>>;
  answerCallbackQuery(callbackQueryId: string, text?: string): Promise<unknown>;
  editMessageReplyMarkup(chatId: number, messageId: number, replyMarkup?: object): Promise<unknown>;
}

export interface ApprovalServiceOptions {
  /** The gateway passes its ReplyPath for sendMessage, so prompts and results share the one reply path. */
  api: ApprovalApi;
  runner: SkillRunner;
  /** Pending approvals are kept in DATA_DIR/approvals.json so a restart does not lose them. */
  dataDir: string;
  /** Default: DATA_DIR/approvals.json; PostgreSQL with several replicas. */
  records?: ApprovalRecords;
  /** How long the Approve button stays valid (APPROVAL_TTL_S). */
  ttlSeconds: number;
  logger: Logger;
  /** Clock in ms, for tests. Default Date.now. */
  now?: () => number;
}

/** A tap decided a pending approval: what to tell the user, where (the handler sends it). */
export interface ApprovalDecision {
  target: ReplyTarget;
  text: string;
}

/**
 * Arguments longer than this are refused rather than shown cut: the user must see every
 * character of what they approve (a prompt-injected model could hide a payload past a cut).
 */
const MAX_APPROVAL_ARGS_CHARS = 1500;
const CALLBACK = /^(approve|deny):([A-Za-z0-9_-]{1,32})$/;

/**
 * The gate in front of skills marked `requires_approval`: the skill runs only after the user who
 * asked taps Approve within the TTL. Decisions are taken off the pending list before anything is
 * awaited, so a double tap (or a replayed callback after a crash) cannot run a skill twice.
 */
export class ApprovalService {
  private readonly records: ApprovalRecords;
  private readonly now: () => number;

  constructor(private readonly options: ApprovalServiceOptions) {
    this.records = options.records ?? new ApprovalFile({ dataDir: options.dataDir, logger: options.logger });
    this.now = options.now ?? Date.now;
  }

  /** Asks the user to approve; the skill does not run now. */
  async request(input: { chatId: number; userId: number; skill: string; args: unknown; threadId?: number; replyTo?: number }): Promise<SkillResult> {
    await this.expireStale();
    const shown = describeArgs(input.args);
    if (shown === undefined) {
      return result(
        input.skill,
        'invalid_args',
        `${input.skill} was not run: its arguments are too long to show in full for approval (over ${MAX_APPROVAL_ARGS_CHARS} characters).`,
      );
    }
    const createdAt = this.now();
    const entry: PendingApproval = {
      id: randomBytes(12).toString('base64url'),
      ...input,
      createdAt,
      expiresAt: createdAt + this.options.ttlSeconds * 1000,
    };
    if (!(await this.records.put(entry))) {
      return result(input.skill, 'error', 'Could not store the approval request (is DATA_DIR writable?)');
    }
    const minutes = Math.max(1, Math.round(this.options.ttlSeconds / 60));
    try {
      const sent = await this.options.api.sendMessage(
        input.chatId,
        `Approve running ${input.skill}?${shown}\nOnly you can decide; this request expires in ${minutes} min.`,
        {
          ...extraFor(entry),
          reply_markup: {
            inline_keyboard: [[
              { text: '✅ Approve', callback_data: `approve:${entry.id}` },
              { text: '❌ Deny', callback_data: `deny:${entry.id}` },
            ]],
          },
        },
      );
      entry.messageId = sent.at(-1)?.message_id;
      await this.records.put(entry);
    } catch (err) {
      await this.records.take(entry.id);
      this.options.logger.error({ skill: input.skill, err: (err as Error).message }, 'Could not send the approval request');
      return result(input.skill, 'error', `Could not ask for approval: ${(err as Error).message}`);
    }
    this.options.logger.info({ approvalId: entry.id, skill: input.skill, chatId: input.chatId }, 'Approval requested');
    return result(input.skill, 'pending_approval', `${input.skill} needs your approval: tap Approve or Deny above.`);
  }

  /**
   * A tap on Approve or Deny. Always answers the callback query, so the button stops spinning.
   * A button this service did not make (another bot's, a forged one) is answered and nothing else.
   * Returns the decision's message (the approved run's result, or "Denied"), which the handler
   * sends through the same reply stage as every other answer; undefined when there is none.
   */
  async handleCallback(query: CallbackQuery): Promise<ApprovalDecision | undefined> {
    await this.expireStale();
    const match = CALLBACK.exec(query.data ?? '');
    if (!match) {
      await this.answer(query.id);
      return undefined;
    }
    const entry = await this.records.get(match[2]!);
    if (!entry) {
      await this.answer(query.id, 'This request is no longer pending.');
      if (query.message) await this.removeKeyboard(query.message.chat.id, query.message.message_id);
      return undefined;
    }
    if (query.from.id !== entry.userId || (query.message && query.message.chat.id !== entry.chatId)) {
      this.options.logger.warn({ approvalId: entry.id, userId: query.from.id }, 'Approval tapped by someone other than the requester; ignored');
      await this.answer(query.id, 'Only the person who asked can decide.');
      return undefined;
    }
    // Decided: taken off the records before anything else, and only by one taker (a double tap,
    // a replayed callback, another replica), so it cannot be decided twice.
    if (!(await this.records.take(entry.id))) {
      await this.answer(query.id, 'This request is no longer pending.');
      return undefined;
    }
    const approved = match[1] === 'approve';
    this.options.logger.info({ approvalId: entry.id, skill: entry.skill, decision: match[1] }, 'Approval decided');
    await this.answer(query.id, approved ? `Approved: running ${entry.skill}…` : 'Denied.');
    await this.removeKeyboard(entry.chatId, query.message?.message_id ?? entry.messageId);
    const target: ReplyTarget = { chatId: entry.chatId, threadId: entry.threadId, replyTo: entry.replyTo };
    if (!approved) return { target, text: `Denied: ${entry.skill} was not run.` };
    const outcome = await this.options.runner.run(entry.skill, entry.args);
    return { target, text: formatSkillResult(outcome) };
  }

  /** The group became a supergroup: its approvals follow; old message ids and topics do not carry over. */
  migrate(from: number, to: number): Promise<void> {
    return this.records.migrate(from, to);
  }

  /** Pending approvals, for tests and diagnostics. */
  get size(): number {
    return this.records.size;
  }

  /** Cancels approvals past their TTL: removes the keyboard and says the skill was not run. */
  private async expireStale(): Promise<void> {
    const stale = await this.records.takeExpired(this.now());
    for (const entry of stale) {
      this.options.logger.info({ approvalId: entry.id, skill: entry.skill }, 'Approval expired');
      await this.removeKeyboard(entry.chatId, entry.messageId);
      await this.notify(entry, `Approval for ${entry.skill} expired; it was not run.`);
    }
  }

  private async answer(callbackQueryId: string, text?: string): Promise<void> {
    try {
      await this.options.api.answerCallbackQuery(callbackQueryId, text);
    } catch (err) {
      // The toast is cosmetic; the decision already stands.
      this.options.logger.warn({ err: (err as Error).message }, 'answerCallbackQuery failed');
    }
  }

  private async removeKeyboard(chatId: number, messageId: number | undefined): Promise<void> {
    if (messageId === undefined) return;
    try {
      await this.options.api.editMessageReplyMarkup(chatId, messageId);
    } catch (err) {
      // "message is not modified" when it was already removed: nothing to do.
      this.options.logger.debug({ err: (err as Error).message }, 'Could not remove the approval keyboard');
    }
  }

  private async notify(entry: PendingApproval, text: string): Promise<void> {
    try {
      await this.options.api.sendMessage(entry.chatId, text, extraFor(entry));
    } catch (err) {
      this.options.logger.error({ chatId: entry.chatId, err: (err as Error).message }, 'Could not send the approval outcome');
    }
  }
}

/**
 * Every argument on its own line, in full, with invisible, blank-looking and look-alike characters
 * made visible (they could make the text read differently from what runs). Undefined when too
 * long even after long blank runs are collapsed.
 */
function describeArgs(args: unknown): string | undefined {
  if (args === undefined || args === null) return '';
  const entries = typeof args === 'object' ? Object.entries(args as object) : [['value', args] as const];
  if (entries.length === 0) return '';
  const lines = entries.map(([name, value]) => `• ${revealInvisible(String(name))} = ${revealInvisible(JSON.stringify(value) ?? String(value))}`);
  const text = lines.join('\n');
  return text.length > MAX_APPROVAL_ARGS_CHARS ? undefined : `\n${text}`;
}

function result(skill: string, outcome: SkillResult['outcome'], output: string): SkillResult {
  return { skill, outcome, ok: false, output, truncated: false, durationMs: 0 };
}
