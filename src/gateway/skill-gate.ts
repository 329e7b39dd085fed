import type { Logger } from '../observability/logger.js';
import type { SkillResult, SkillRunner } from '../skills/types.js';
import type { CallbackQuery } from '../telegram/update-schema.js';
import type { ApprovalDecision } from './approvals.js';
import type { ReplyTarget } from './reply-path.js';

/** Gate for skills marked requires_approval (src/gateway/approvals.ts). */
export interface ApprovalGate {
  request(input: { chatId: number; userId: number; skill: string; args: unknown; threadId?: number; replyTo?: number }): Promise<SkillResult>;
  /** A tap on Approve or Deny; the decision's message, for the reply stage to send. */
  handleCallback(query: CallbackQuery): Promise<ApprovalDecision | undefined>;
  /** The group became a supergroup: pending approvals follow it. */
  migrate?(from: number, to: number): void;
}

export interface SkillGateDeps {
  skills: SkillRunner;
  approvals?: ApprovalGate;
  logger: Logger;
  /** Aborted at shutdown: a running skill is cancelled. */
  shutdownSignal?: AbortSignal;
}

/**
 * The approvals stage for one message: skill calls either run now or, when the skill requires
 * approval, ask the user instead. It remembers whether it asked, so the handler (not the
 * router) decides whether the prompt already is the answer.
 */
export class SkillGate {
  /** An approval prompt went out for this message. */
  asked = false;

  constructor(
    private readonly deps: SkillGateDeps,
    private readonly target: ReplyTarget,
    private readonly userId: number,
  ) {}

  async run(name: string, args: unknown): Promise<SkillResult> {
    const { skills, approvals, logger } = this.deps;
    if (skills.get(name)?.requiresApproval && approvals) {
      // Bad arguments are refused now: nobody should approve a call that cannot run.
      const refusal = skills.precheck?.(name, args);
      if (refusal) return { skill: name, outcome: 'invalid_args', ok: false, output: refusal, truncated: false, durationMs: 0 };
      logger.info({ chatId: this.target.chatId, skill: name }, 'Skill requires approval; asking the user');
      const { chatId, threadId, replyTo } = this.target;
      const result = await approvals.request({ chatId, userId: this.userId, skill: name, args, threadId, replyTo });
      if (result.outcome === 'pending_approval') this.asked = true;
      return result;
    }
    return skills.run(name, args, { signal: this.deps.shutdownSignal });
  }
}
