import { formatSkillResult } from './format.js';
import { matchSkill } from './keywords.js';
import type { IntentRouter, RouteContext, RouteReply } from './types.js';

/** The text sent when nothing matched, and by /help. */
export function helpText(mode: 'rules' | 'llm'): string {
  return [
    mode === 'llm'
      ? 'Ask me anything; I can run skills on this server when it helps.'
      : 'Tell me what you need in a few words (for example "what files are in the workspace?"), or use a command:',
    '',
    '/skills - list the skills I can run',
    '/run NAME {"arg": "value"} - run a skill with JSON arguments',
    '/whoami - show your Telegram user id',
    ...(mode === 'llm' ? ['/reset - forget our conversation'] : []),
    '/help - this text',
  ].join('\n');
}

/**
 * The default router: free text is matched to a skill by keywords from its name and description,
 * and the skill runs without arguments. No model, no network, fully predictable.
 */
export class RuleRouter implements IntentRouter {
  readonly kind = 'rules' as const;

  async route(ctx: RouteContext): Promise<RouteReply> {
    const match = matchSkill(ctx.text, ctx.skills());
    if (!match) {
      return { text: `I did not find a skill for that.\n\n${helpText('rules')}`, skills: [] };
    }
    const { skill } = match;
    if (skill.parameters.required.length > 0) {
      const example = Object.fromEntries(skill.parameters.required.map((name) => [name, '...']));
      return {
        text: `${skill.name} needs arguments (${skill.parameters.required.join(', ')}). Run it with:\n/run ${skill.name} ${JSON.stringify(example)}`,
        skills: [],
      };
    }
    const result = await ctx.runSkill(skill.name, {});
    return { text: formatSkillResult(result), skills: [skill.name] };
  }
}
