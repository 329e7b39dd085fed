import type { Redactor } from '../observability/redact.js';
import type { SkillRunner } from '../skills/types.js';

/**
 * The skill runner as the chat and the model see it: every result's output passes the redactor,
 * so a skill that prints a configured secret (read from a file, say) does not send it to
 * Telegram or to the LLM provider.
 */
export function redactingRunner(runner: SkillRunner, redact: Redactor): SkillRunner {
  return {
    list: () => runner.list(),
    get: (name) => runner.get(name),
    precheck: runner.precheck ? (name, args) => runner.precheck!(name, args) : undefined,
    async run(name, args, options) {
      const result = await runner.run(name, args, options);
      return { ...result, output: redact(result.output) };
    },
  };
}
