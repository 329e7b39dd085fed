import type { SkillResult } from '../skills/types.js';

/** How a skill result reads in the chat. */
export function formatSkillResult(result: SkillResult): string {
  switch (result.outcome) {
    case 'ok':
      return result.output.trim() === '' ? `${result.skill} finished (no output).` : result.output;
    case 'pending_approval':
      return result.output;
    case 'timeout':
      return `⚠️ ${result.skill} took too long and was stopped. ${result.output}`.trim();
    default:
      return `⚠️ ${result.skill} failed: ${result.output}`;
  }
}
