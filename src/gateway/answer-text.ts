import type { AuditRecord } from '../observability/audit-record.js';
import type { Logger } from '../observability/logger.js';
import { parseCommand, runCommand } from '../router/commands.js';
import type { IntentRouter, RouteContext } from '../router/types.js';
import type { ReplyTarget } from './reply-path.js';
import type { ReplyStage } from './reply.js';
import { SkillGate, type SkillGateDeps } from './skill-gate.js';

export interface AnswerTextDeps extends SkillGateDeps {
  router: IntentRouter;
  replies: ReplyStage;
  logger: Logger;
}

export interface TextMessage {
  updateId: number;
  target: ReplyTarget;
  userId: number;
  text: string;
}

const PREVIEW_CHARS = 120;

/**
 * The commands stage: a slash command or the router answers one text message, its skill calls
 * going through the approval gate. Returns the text to send, or undefined when the approval
 * prompt already is the answer.
 */
export async function answerText(message: TextMessage, deps: AnswerTextDeps, audit: AuditRecord): Promise<string | undefined> {
  const { updateId, target, userId, text } = message;
  const { logger, router } = deps;
  audit.text_preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  logger.info({ updateId, userId, chatId: target.chatId, chars: text.length }, `Received message from user_id: ${userId}`);

  const gate = new SkillGate(deps, target, userId);
  // "typing…" only where work can take a while (a skill, the model): a command that answers at
  // once does not need it, and each indicator is one more Bot API call.
  let stopTyping: (() => void) | undefined;
  const startTyping = () => {
    stopTyping ??= deps.replies.typing(target);
  };
  const command = parseCommand(text);
  try {
    const ctx: RouteContext = {
      chatId: target.chatId,
      userId,
      text,
      signal: deps.shutdownSignal ?? new AbortController().signal,
      skills: () => deps.skills.list(),
      runSkill: (name, args) => {
        startTyping();
        return gate.run(name, args);
      },
    };
    audit.route = command ? `command:/${command.name}` : router.kind;
    logger.info({ updateId, route: audit.route }, 'Message routed');
    if (!command && router.kind === 'llm') startTyping();
    const answer = command ? await runCommand(command, ctx, router) : await router.route(ctx);
    audit.skills = answer.skills;
    // A command's or the rule router's answer would only repeat the approval prompt; the model's
    // own answer follows it (the model was told the call waits for the user's tap).
    const promptIsTheAnswer = gate.asked && (command !== undefined || router.kind !== 'llm');
    return promptIsTheAnswer ? undefined : answer.text;
  } finally {
    stopTyping?.();
  }
}
