import type { SkillInfo, SkillResult } from '../skills/types.js';

/** One text message to route, and what the router may do with it. */
export interface RouteContext {
  chatId: number;
  userId: number;
  text: string;
  /** Aborted when the gateway shuts down or the turn's wall-time cap is reached. */
  signal: AbortSignal;
  /** The current registry. */
  skills(): SkillInfo[];
  /**
   * Runs a skill through the gateway: validation, approval gate, executor, trace. A skill that
   * requires approval is not run here; the result says the user was asked to approve, and the
   * gateway decides whether that prompt already answers the message.
   */
  runSkill(name: string, args: unknown): Promise<SkillResult>;
}

export interface RouteReply {
  text: string;
  /** Names of the skills run to produce it, for the audit log. */
  skills: string[];
}

/** Free text goes here; slash commands never do. */
export interface IntentRouter {
  readonly kind: 'rules' | 'llm';
  route(ctx: RouteContext): Promise<RouteReply>;
  /** Forget the chat's conversation (`/reset`). */
  reset?(chatId: number): Promise<void> | void;
  /** The group became a supergroup with a new id: carry the chat's memory over. */
  migrate?(from: number, to: number): Promise<void> | void;
}
