import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { SkillInfo, SkillResult } from '../skills/types.js';

/**
 * The bridge between the skill registry and the model's tool calls: skills become tools, a
 * call's JSON arguments are parsed (never evaluated), and a skill result becomes the text of a
 * `tool` message. The gateway never acts on that text; it only hands it back to the model.
 */

/** Tool output beyond this many characters is cut, with a visible mark. */
export const TOOL_OUTPUT_MAX_CHARS = 8000;

export function skillsToTools(skills: readonly SkillInfo[]): ChatCompletionFunctionTool[] {
  return skills.map((skill) => ({
    type: 'function',
    function: {
      name: skill.name,
      description: skill.requiresApproval
        ? `${skill.description} (Requires the user's approval: calling it asks the user to tap Approve; it does not run at once.)`
        : skill.description,
      parameters: skill.parameters as unknown as Record<string, unknown>,
    },
  }));
}

export type ParsedArguments = { ok: true; args: Record<string, unknown> } | { ok: false; error: string };

/** A tool call's `arguments` string as a JSON object; empty means `{}`. */
export function parseToolArguments(raw: string | undefined): ParsedArguments {
  if (raw === undefined || raw.trim() === '') return { ok: true, args: {} };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `arguments are not valid JSON (${(err as Error).message}); send a JSON object matching the tool's parameters` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: "arguments must be a JSON object matching the tool's parameters" };
  }
  return { ok: true, args: value as Record<string, unknown> };
}

/** The `tool` message text for a skill result, truncated. */
export function toolMessageFor(result: SkillResult): string {
  switch (result.outcome) {
    case 'ok':
      return truncateToolOutput(result.output.trim() === '' ? '(the skill finished with no output)' : result.output);
    case 'pending_approval':
      return (
        `NOT RUN YET: ${result.skill} requires the user's approval. The user has been shown an Approve button; ` +
        'the skill runs only after they tap it. Tell the user that, and do not claim any result.'
      );
    default:
      return truncateToolOutput(`Error (${result.outcome}): ${result.output}`);
  }
}

export function truncateToolOutput(text: string, max = TOOL_OUTPUT_MAX_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[... output truncated: ${text.length - max} more characters not shown]`;
}

/** A one-line preview for trace logs. */
export function preview(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}… (${flat.length} chars)`;
}
