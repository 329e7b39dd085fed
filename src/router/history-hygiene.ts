import type { HistoryMessage } from './chat-history.js';

/**
 * Tool output is data for the turn that produced it, never memory: a file or web page a skill
 * read may carry instructions ("ignore previous instructions and ..."), and replaying it on every
 * later turn would let it steer the model long after the user moved on. What is remembered of a
 * tool result is one line the gateway writes itself: which skill, ok or error, and the size.
 */

const SUMMARY_PREFIX = '[earlier tool result, output not kept:';

export function toolSummary(skill: string, content: string): string {
  const outcome = /^Error \(([a-z_]+)\)/.exec(content)?.[1] ?? (content.startsWith('NOT RUN YET') ? 'pending_approval' : 'ok');
  return `${SUMMARY_PREFIX} ${skill}, ${outcome}, ${content.length} chars]`;
}

/**
 * The messages with every tool result's content replaced by its summary line. Idempotent, so it
 * can run both before saving a turn and on a history loaded from an older file.
 */
export function withToolOutputSummarized(messages: readonly HistoryMessage[]): HistoryMessage[] {
  const names = new Map<string, string>();
  return messages.map((message) => {
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
      return message;
    }
    if (message.role !== 'tool' || message.content.startsWith(SUMMARY_PREFIX)) return message;
    return { ...message, content: toolSummary(names.get(message.tool_call_id) ?? 'unknown skill', message.content) };
  });
}
