import { performance } from 'node:perf_hooks';
import type OpenAI from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessage, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import { fetch as undiciFetch } from 'undici';
import { silentAlerter, type Alerter } from '../alerts/alerter.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createRedactor, type Redactor } from '../observability/redact.js';
import type { SkillResult } from '../skills/types.js';
import { ChatHistory, type ChatDocuments, type HistoryMessage, type ToolCall } from './chat-history.js';
import { withToolOutputSummarized } from './history-hygiene.js';
import {
  classifyLlmError,
  createOpenAIClient,
  displayEndpoint,
  LlmRequestError,
  OPENAI_DEFAULT_BASE_URL,
  type FetchFunction,
  type LlmConfig,
  type LlmFailureKind,
} from './llm-client.js';
import { isTimeout, raceAbort, turnAbortSignal } from './llm-abort.js';
import { LlmFailureReporter } from './llm-failures.js';
import { redactingFetch } from './llm-redacting-fetch.js';
import { REPLIES, SYSTEM_PROMPT } from './llm-prompt.js';
import { parseToolArguments, preview, skillsToTools, toolMessageFor, truncateToolOutput } from './llm-tools.js';
import type { IntentRouter, RouteContext, RouteReply } from './types.js';

export interface LlmRouterOptions {
  config: LlmConfig;
  /** DATA_DIR: per-chat memory lives in DATA_DIR/chats. */
  dataDir: string;
  /** Where chat memory lives. Default: files in DATA_DIR/chats; PostgreSQL with several replicas. */
  historyDocuments?: ChatDocuments;
  logger: Logger;
  metrics?: Metrics;
  /** Default: alerts dropped. */
  alerter?: Alerter;
  /** Default: undici's fetch. */
  fetch?: FetchFunction;
  /** The outbound redactor, applied to every request body and alert. Default: the API key only. */
  redact?: Redactor;
}

type ToolMessage = Extract<HistoryMessage, { role: 'tool' }>;

/** Tool calls run per model step; the rest of a larger batch get an error back. */
export const MAX_TOOL_CALLS_PER_STEP = 8;

interface TurnLimits {
  /** An approval-gated skill was already asked for in this turn. */
  approvalAsked: boolean;
}

/**
 * Free text goes to an OpenAI-compatible model with the skill registry as tools. Each tool call
 * goes through `ctx.runSkill` (validation, approval gate, executor) and its output returns to the
 * model as an untrusted `tool` message; the loop ends with the model's text answer or at the step
 * cap. Every failure becomes a short apology to the user: the router never throws.
 */
export class LlmRouter implements IntentRouter {
  readonly kind = 'llm' as const;
  private readonly client: OpenAI;
  private readonly history: ChatHistory;
  private readonly failures: LlmFailureReporter;
  private readonly config: LlmConfig;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;

  constructor(options: LlmRouterOptions) {
    this.config = options.config;
    this.log = options.logger.child({ component: 'llm-router' });
    this.metrics = options.metrics;
    const redact = options.redact ?? createRedactor(options.config.apiKey ? [options.config.apiKey] : []);
    this.client = createOpenAIClient(options.config, redactingFetch(options.fetch ?? undiciFetch, redact));
    this.history = new ChatHistory({
      dataDir: options.dataDir,
      maxMessages: options.config.historyTurns,
      maxChars: options.config.historyChars,
      logger: this.log,
      documents: options.historyDocuments,
    });
    this.failures = new LlmFailureReporter({
      logger: this.log,
      alerter: options.alerter ?? silentAlerter,
      // The gateway's logger redacts too; this covers alert text, which leaves through the alerter.
      redact,
      endpoint: displayEndpoint(options.config.baseUrl ?? OPENAI_DEFAULT_BASE_URL),
    });
  }

  async route(ctx: RouteContext): Promise<RouteReply> {
    const turnSignal = turnAbortSignal(ctx.signal, this.config.totalTimeoutMs);
    const { signal } = turnSignal;
    // Older files may still hold raw tool output: it is summarized before the model sees it.
    const history = withToolOutputSummarized(await this.history.load(ctx.chatId));
    this.log.info({ chatId: ctx.chatId, chars: ctx.text.length, historyMessages: history.length }, 'forwarding message to LLM context');
    const turn: HistoryMessage[] = [{ role: 'user', content: ctx.text }];
    const tools = skillsToTools(ctx.skills());
    const ran = new Set<string>();
    const limits: TurnLimits = { approvalAsked: false };
    try {
      for (let step = 1; step <= this.config.maxSteps + 1; step++) {
        // After maxSteps rounds of tools, one last request asks for an answer from what is known.
        const finalStep = step > this.config.maxSteps;
        const message = await this.complete(ctx.chatId, step, [...history, ...turn], tools, finalStep, signal);
        const calls = message.tool_calls ?? [];
        if (calls.length === 0) {
          const answer = message.content?.trim() || message.refusal?.trim() || '';
          const text = !answer ? REPLIES.empty : finalStep ? `${answer}\n\n(${REPLIES.stepCap(this.config.maxSteps)})` : answer;
          turn.push({ role: 'assistant', content: text });
          await this.remember(ctx.chatId, turn, history);
          return { text, skills: [...ran] };
        }
        if (finalStep) break;
        turn.push({ role: 'assistant', content: message.content ?? null, tool_calls: calls.map(asStoredCall) });
        // Concurrent (the executor caps it), answered in the order the model asked.
        turn.push(...(await Promise.all(calls.map((call, i) => this.runToolCall(ctx, call, ran, limits, i)))));
      }
      const text = REPLIES.stepCap(this.config.maxSteps);
      this.log.warn({ chatId: ctx.chatId, maxSteps: this.config.maxSteps }, 'LLM tool loop cut at the step cap');
      turn.push({ role: 'assistant', content: text });
      await this.remember(ctx.chatId, turn, history);
      return { text, skills: [...ran] };
    } catch (err) {
      const failure =
        err instanceof LlmRequestError
          ? err.failure
          : classifyLlmError(err, { shutdown: ctx.signal.aborted, wallTimeExceeded: isTimeout(signal) });
      this.failures.failed(failure, ctx.chatId);
      return { text: replyFor(failure.kind), skills: [...ran] };
    } finally {
      turnSignal.dispose();
    }
  }

  async reset(chatId: number): Promise<void> {
    await this.history.reset(chatId);
    this.log.info({ chatId }, 'LLM conversation memory cleared');
  }

  async migrate(from: number, to: number): Promise<void> {
    await this.history.move(from, to);
  }

  /** One chat.completions call; throws LlmRequestError with the failure classified. */
  private async complete(
    chatId: number,
    step: number,
    messages: HistoryMessage[],
    tools: ChatCompletionFunctionTool[],
    finalStep: boolean,
    signal: AbortSignal,
  ): Promise<ChatCompletionMessage> {
    const started = performance.now();
    const request = this.client.chat.completions.create(
      {
        model: this.config.model,
        messages: [{ role: 'system', content: SYSTEM_PROMPT }, ...messages],
        ...(tools.length > 0 ? { tools, ...(finalStep ? { tool_choice: 'none' as const } : {}) } : {}),
      },
      { signal },
    );
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await raceAbort(request, signal);
    } catch (err) {
      // `signal` fires on shutdown or at the wall-time cap; its reason tells which.
      const timedOut = isTimeout(signal);
      const failure = classifyLlmError(err, { shutdown: signal.aborted && !timedOut, wallTimeExceeded: timedOut });
      this.metrics?.llmCalls.inc({ outcome: failure.kind });
      throw new LlmRequestError(failure);
    }
    const choice = completion.choices?.[0];
    const durationMs = Math.round(performance.now() - started);
    this.log.info(
      {
        chatId,
        step,
        finishReason: choice?.finish_reason,
        promptTokens: completion.usage?.prompt_tokens,
        completionTokens: completion.usage?.completion_tokens,
        toolCalls: choice?.message?.tool_calls?.length ?? 0,
        durationMs,
      },
      'LLM response received',
    );
    if (!choice?.message) {
      this.metrics?.llmCalls.inc({ outcome: 'error' });
      throw new LlmRequestError({ kind: 'error', status: undefined, message: 'the response had no choices' });
    }
    this.metrics?.llmCalls.inc({ outcome: 'ok' });
    this.failures.succeeded();
    return choice.message;
  }

  /** Runs one requested tool call through the gateway; always yields the answering tool message. */
  private async runToolCall(
    ctx: RouteContext,
    call: ChatCompletionMessageToolCall,
    ran: Set<string>,
    limits: TurnLimits,
    index: number,
  ): Promise<ToolMessage> {
    const { name, rawArgs } = call.type === 'function' ? { name: call.function.name, rawArgs: call.function.arguments } : { name: call.custom.name, rawArgs: call.custom.input };
    this.log.info({ chatId: ctx.chatId, tool: name, callId: call.id }, `LLM requested tool call ${name}(${preview(rawArgs, 500)})`);
    let content: string;
    let outcome: string;
    const parsed = parseToolArguments(rawArgs);
    const needsApproval = ctx.skills().find((s) => s.name === name)?.requiresApproval === true;
    // A steered model must not be able to fan out: bounded calls per step, one Approve prompt per
    // message (a flood of prompts is how approval fatigue is manufactured).
    if (index >= MAX_TOOL_CALLS_PER_STEP) {
      outcome = 'refused';
      content = `Error (too_many_calls): at most ${MAX_TOOL_CALLS_PER_STEP} tool calls per step; this one was not run.`;
    } else if (needsApproval && limits.approvalAsked) {
      outcome = 'refused';
      content = 'Error (approval_pending): the user is already being asked to approve one action for this message; this one was not run.';
    } else if (call.type !== 'function') {
      outcome = 'invalid_call';
      content = 'Error (invalid_call): only function tools exist here; call one of the listed functions.';
    } else if (!parsed.ok) {
      outcome = 'invalid_args';
      content = truncateToolOutput(`Error (invalid_args): ${parsed.error}`);
    } else {
      if (needsApproval) limits.approvalAsked = true;
      const result = await this.runSkillSafely(ctx, name, parsed.args);
      outcome = result.outcome;
      if (result.outcome !== 'not_found' && result.outcome !== 'invalid_args') ran.add(name);
      content = toolMessageFor(result);
    }
    this.log.info(
      { chatId: ctx.chatId, tool: name, callId: call.id, outcome, chars: content.length, output: preview(content) },
      'tool output sent to LLM',
    );
    return { role: 'tool', tool_call_id: call.id, content };
  }

  /** `ctx.runSkill` promises never to throw; a bug there must still not end the turn. */
  private async runSkillSafely(ctx: RouteContext, name: string, args: Record<string, unknown>): Promise<SkillResult> {
    try {
      return await ctx.runSkill(name, args);
    } catch (err) {
      this.log.error({ chatId: ctx.chatId, tool: name, err }, 'runSkill threw; reporting it to the LLM as a tool error');
      return { skill: name, outcome: 'crashed', ok: false, output: 'the skill could not be run', truncated: false, durationMs: 0 };
    }
  }

  /** Memory is best effort: a full disk must not cost the user their answer. */
  private async remember(chatId: number, turn: HistoryMessage[], previous: HistoryMessage[]): Promise<void> {
    try {
      await this.history.append(chatId, withToolOutputSummarized(turn), previous);
    } catch (err) {
      this.log.warn({ chatId, err }, 'could not save chat history; the conversation continues without it');
    }
  }
}

function asStoredCall(call: ChatCompletionMessageToolCall): ToolCall {
  return call.type === 'function'
    ? { id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }
    : { id: call.id, type: 'function', function: { name: call.custom.name, arguments: call.custom.input } };
}

function replyFor(kind: LlmFailureKind): string {
  switch (kind) {
    case 'auth':
      return REPLIES.auth;
    case 'timeout':
      return REPLIES.timeout;
    case 'aborted':
      return REPLIES.aborted;
    case 'rejected':
      return REPLIES.rejected;
    default:
      return REPLIES.unavailable;
  }
}
