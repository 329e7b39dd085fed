import type { SkillInfo } from '../skills/types.js';
import { formatSkillResult } from './format.js';
import { helpText } from './rules.js';
import type { IntentRouter, RouteContext, RouteReply } from './types.js';

export interface ParsedCommand {
  name: string;
  rest: string;
  /** The bot named in `/cmd@bot_name`, if any (in groups, a command may be for another bot). */
  mention?: string;
}

/** `/run@my_bot x {}` -> { name: 'run', rest: 'x {}', mention: 'my_bot' }; undefined when text is no command. */
export function parseCommand(text: string): ParsedCommand | undefined {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase(), rest: (m[3] ?? '').trim(), ...(m[2] ? { mention: m[2] } : {}) };
}

/**
 * Slash commands, handled the same way in both router modes and never shown to the LLM: they
 * are the operator's reliable way in, even while the model is down.
 */
export async function runCommand(command: ParsedCommand, ctx: RouteContext, router: IntentRouter): Promise<RouteReply> {
  switch (command.name) {
    case 'start':
      return { text: `Hi! I run skills on this server for you.\n\n${helpText(router.kind)}`, skills: [] };
    case 'help':
      return { text: helpText(router.kind), skills: [] };
    case 'skills':
      return { text: describeSkills(ctx.skills()), skills: [] };
    case 'whoami':
      return { text: `Your Telegram user id is ${ctx.userId} (chat id ${ctx.chatId}).`, skills: [] };
    case 'reset':
      if (!router.reset) return { text: 'Nothing to reset: the rule router keeps no conversation memory.', skills: [] };
      await router.reset(ctx.chatId);
      return { text: 'Done: I forgot our conversation.', skills: [] };
    case 'run':
      return runSkillCommand(command.rest, ctx);
    default:
      return { text: `Unknown command /${command.name}. Try /help.`, skills: [] };
  }
}

async function runSkillCommand(rest: string, ctx: RouteContext): Promise<RouteReply> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*([\s\S]*)$/.exec(rest);
  if (!m) return { text: 'Usage: /run NAME {"arg": "value"} (see /skills for names)', skills: [] };
  const [, name, json] = m as unknown as [string, string, string];
  let args: unknown = {};
  if (json.trim() !== '') {
    try {
      args = JSON.parse(json);
    } catch {
      return { text: `Arguments must be a JSON object, for example: /run ${name} {"path": "notes.txt"}`, skills: [] };
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return { text: `Arguments must be a JSON object, for example: /run ${name} {"path": "notes.txt"}`, skills: [] };
  }
  const result = await ctx.runSkill(name, args);
  return { text: formatSkillResult(result), skills: result.outcome === 'not_found' ? [] : [name] };
}

function describeSkills(skills: SkillInfo[]): string {
  if (skills.length === 0) return 'No skills are loaded. Add a .py file to the skills folder.';
  const lines = skills.map((s) => {
    const params = Object.keys(s.parameters.properties);
    const signature = params.length > 0 ? ` (${params.join(', ')})` : '';
    return `• ${s.name}${signature}${s.requiresApproval ? ' [needs approval]' : ''}\n  ${s.description}`;
  });
  return `Skills (${skills.length}):\n${lines.join('\n')}`;
}
