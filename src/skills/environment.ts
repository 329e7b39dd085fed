import type { Logger } from '../observability/logger.js';

export type ParentEnv = Record<string, string | undefined>;

/** The only variables a skill ever sees from the gateway's environment (plus SKILL_ENV_ALLOW). */
export const BASE_ENV_KEYS = ['PATH', 'HOME', 'LANG', 'TZ'] as const;

/** Never passed through, even when listed in SKILL_ENV_ALLOW: they are the gateway's own secrets. */
const NEVER_PASSED = /^(TELEGRAM_BOT_TOKEN|TELEGRAM_WEBHOOK_SECRET|OPENAI_API_KEY|DISCORD_WEBHOOK_URL|DATABASE_URL)$/;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The scrubbed environment of every skill process: built from an allowlist, never by deleting
 * known secrets from a copy, so a secret added tomorrow is not leaked by default.
 */
export function skillEnvironment(
  parent: ParentEnv,
  options: { workspaceDir: string; allow: readonly string[]; logger: Logger },
): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, LANG: 'C.UTF-8' };
  for (const key of [...BASE_ENV_KEYS, ...options.allow]) {
    if (NEVER_PASSED.test(key)) {
      options.logger.warn({ variable: key }, 'SKILL_ENV_ALLOW lists a gateway secret; it is not passed to skills');
      continue;
    }
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  env.WORKSPACE_DIR = options.workspaceDir;
  env.PYTHONIOENCODING = 'utf-8';
  return env;
}
