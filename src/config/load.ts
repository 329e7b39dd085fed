import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors.js';
import { envSchema, toConfig, type Config } from './schema.js';

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
  // An empty assignment in .env (`FOO=`) means "unset", not "the empty string".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      problems.push(`${name}: ${issue.message}`);
    }
  } else {
    const e = parsed.data;
    if (e.TELEGRAM_MODE === 'webhook' && e.TELEGRAM_WEBHOOK_SECRET === undefined) {
      problems.push('TELEGRAM_WEBHOOK_SECRET: is required in webhook mode (1-256 chars of A-Za-z0-9_-; try: openssl rand -hex 32)');
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(dedupe(problems));
  return toConfig(parsed.data, cwd);
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
