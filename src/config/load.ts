import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors.js';
import { envSchema, type Env } from './env-schema.js';
import { configSchema, deepFreeze, SKILLS_ENV_KEYS, skillsSection, type Config } from './schema.js';

export type RawEnv = Record<string, string | undefined>;

/**
 * Reads `.env` in `cwd`, if present. Variables already in the process environment win, as with
 * every other dotenv loader, so `FOO=1 npm start` overrides the file.
 */
export function readEnv(processEnv: RawEnv, cwd: string): RawEnv {
  const file = path.join(cwd, '.env');
  let fromFile: RawEnv = {};
  try {
    fromFile = parseEnv(fs.readFileSync(file, 'utf8')) as RawEnv;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError([`.env: cannot be read (${(err as Error).message})`]);
    }
  }
  return { ...fromFile, ...processEnv };
}

/**
 * Validates the environment and resolves defaults. Throws ConfigError listing every problem,
 * one line each, naming the variable; values are never echoed (they may be secrets).
 */
export function loadConfig(env: RawEnv, cwd: string = process.cwd()): Config {
  const given = present(env);
  const parsed = configSchema(cwd).safeParse(given);
  const problems = parsed.success ? [] : describeIssues(parsed.error.issues);
  // Cross-variable rules read the raw values, so they are reported alongside every other problem.
  if ((given.TELEGRAM_MODE ?? 'webhook') === 'webhook' && given.TELEGRAM_WEBHOOK_SECRET === undefined) {
    problems.push('TELEGRAM_WEBHOOK_SECRET: is required in webhook mode (1-256 chars of A-Za-z0-9_-; try: openssl rand -hex 32)');
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(dedupe(problems));
  return parsed.data;
}

/**
 * Validates only `keys` of the environment, for CLIs that need one part of the configuration
 * (`npm run skills` must work without a bot token). Same messages and errors as loadConfig.
 */
export function loadEnvKeys<K extends keyof Env>(env: RawEnv, keys: readonly K[]): Pick<Env, K> {
  const mask: Record<string, true> = Object.fromEntries(keys.map((k) => [k, true]));
  const parsed = envSchema.pick(mask as never).safeParse(present(env));
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues));
  return parsed.data as unknown as Pick<Env, K>;
}

/** The skill runtime's configuration alone. */
export function loadSkillsConfig(env: RawEnv, cwd: string = process.cwd()): Config['skills'] {
  return deepFreeze(skillsSection(loadEnvKeys(env, SKILLS_ENV_KEYS), cwd));
}

// An empty assignment in .env (`FOO=`) means "unset", not "the empty string".
function present(env: RawEnv): RawEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return dedupe(issues.map((issue) => `${String(issue.path[0] ?? 'environment')}: ${issue.message}`));
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
