import { ReplyRejectedError, SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { isPermanent, type ReplyPath, type ReplyTarget } from './reply-path.js';

export interface ReplyJournal {
  /** Record that the reply went out, so a replay after a crash does not send it again. */
  markReplied(): void;
}

export interface ReplyStageOptions {
  replies: ReplyPath;
  logger: Logger;
  /** Aborted at shutdown: work cut short by it has no real answer to send. */
  shutdownSignal?: AbortSignal;
}

/**
 * The reply stage: every answer to an update, approved runs' results included, goes out here and
 * is journaled. A refusal that retrying cannot change (blocked, chat gone) becomes a
 * ReplyRejectedError, which the handler audits and does not retry; anything else is thrown so
 * the inbox retries the update.
 */
export class ReplyStage {
  constructor(private readonly options: ReplyStageOptions) {}

  /** The answer to a message, whose work ran under the shutdown signal. */
  async answer(target: ReplyTarget, text: string, journal: ReplyJournal): Promise<void> {
    if (this.options.shutdownSignal?.aborted) {
      // The work was cut short by shutdown: its answer ("cancelled") is not the real one. Throw,
      // so the update stays in the store and is handled properly after the restart.
      throw new SkillgateError('SG_SHUTTING_DOWN', 'Shutdown interrupted this update; it will be handled again after the restart');
    }
    await this.send(target, text, journal);
  }

  /** Sends `text` to `target` and journals it. */
  async send(target: ReplyTarget, text: string, journal: ReplyJournal): Promise<void> {
    try {
      await this.options.replies.send(target, text);
      journal.markReplied();
    } catch (err) {
      if (!isPermanent(err)) throw err;
      this.options.logger.error({ chatId: target.chatId, err: (err as Error).message }, 'Reply rejected by Telegram; not retrying');
      throw new ReplyRejectedError(target.chatId, (err as Error).message, { cause: err });
    }
  }

  /** "typing…" in the target's chat until the returned function is called. */
  typing(target: ReplyTarget): () => void {
    return this.options.replies.typing(target);
  }
}
