import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { envSchema, type Env } from './env-schema.js';

/**
 * The configuration the rest of the code sees: resolved, typed, frozen. Its type is inferred from
 * the schema (the env schema piped through `toConfig`), never written out by hand, so a field
 * cannot drift from the variable it comes from.
 */
export type Config = z.output<ReturnType<typeof configSchema>>;

/** The env schema resolved into Config; `cwd` anchors relative paths. */
export function configSchema(cwd: string) {
  return envSchema.transform((env) => toConfig(env, cwd));
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** Turns validated env into Config; `cwd` anchors relative paths. */
export function toConfig(env: Env, cwd: string) {
  const abs = (p: string) => path.resolve(cwd, expandHome(p));
  const tls = env.TLS === 'on';
  const llmEnabled = env.OPENAI_API_KEY !== undefined || env.OPENAI_BASE_URL !== undefined;
  // The URL's password alone too: the driver's errors may quote it without the URL around it.
  const databasePassword = env.DATABASE_URL ? decodeURIComponent(new URL(env.DATABASE_URL).password) : undefined;
  const secrets = [env.TELEGRAM_BOT_TOKEN, env.TELEGRAM_WEBHOOK_SECRET, env.OPENAI_API_KEY, env.DISCORD_WEBHOOK_URL, env.DATABASE_URL, databasePassword]
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  // The Discord webhook URL embeds its own token as the last path segment.
  if (env.DISCORD_WEBHOOK_URL) {
    const last = new URL(env.DISCORD_WEBHOOK_URL).pathname.split('/').filter(Boolean).pop();
    if (last && last.length >= 8) secrets.push(last);
  }
  const config = {
    telegram: {
      token: env.TELEGRAM_BOT_TOKEN,
      allowedUserIds: new Set(env.TELEGRAM_ALLOWED_USER_IDS.map(Number)) as ReadonlySet<number>,
      /** Groups and supergroups the bot works in; empty: groups are ignored. */
      allowedChatIds: new Set((env.TELEGRAM_ALLOWED_CHAT_IDS ?? []).map(Number)) as ReadonlySet<number>,
      mode: env.TELEGRAM_MODE,
      webhookSecret: env.TELEGRAM_WEBHOOK_SECRET,
      apiBase: env.TELEGRAM_API_BASE,
      maxConnections: env.TELEGRAM_MAX_CONNECTIONS,
      sendRate: { globalPerSecond: env.TELEGRAM_SEND_RATE, perChatPerSecond: env.TELEGRAM_CHAT_SEND_RATE },
    },
    http: {
      publicUrl: env.PUBLIC_URL,
      webhookPath: env.WEBHOOK_PATH,
      host: env.HOST ?? (tls ? '0.0.0.0' : '127.0.0.1'),
      port: env.PORT,
      tls,
      certFile: abs(env.TLS_CERT_FILE),
      keyFile: abs(env.TLS_KEY_FILE),
      trustProxy: env.TRUST_PROXY,
      adminHost: env.ADMIN_HOST,
      adminPort: env.ADMIN_PORT,
    },
    llm: llmEnabled
      ? {
          apiKey: env.OPENAI_API_KEY,
          baseUrl: env.OPENAI_BASE_URL,
          model: env.OPENAI_MODEL,
          maxSteps: env.LLM_MAX_STEPS,
          timeoutMs: env.LLM_TIMEOUT_MS,
          maxRetries: env.LLM_MAX_RETRIES,
          totalTimeoutMs: env.LLM_TOTAL_TIMEOUT_MS,
          historyTurns: env.LLM_HISTORY_TURNS,
          historyChars: env.LLM_HISTORY_CHARS,
        }
      : undefined,
    skills: skillsSection(env, cwd),
    dataDir: abs(env.DATA_DIR),
    /** Set: durable state in PostgreSQL, shared by the replicas (src/inbox/pg); unset: SQLite in DATA_DIR. */
    database: env.DATABASE_URL
      ? { url: env.DATABASE_URL, replicaName: env.REPLICA_ID ?? os.hostname(), leaseMs: env.REPLICA_LEASE_MS }
      : undefined,
    inboxMaxPending: env.INBOX_MAX_PENDING,
    chatConcurrency: env.CHAT_CONCURRENCY,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    approvalTtlS: env.APPROVAL_TTL_S,
    discordWebhookUrl: env.DISCORD_WEBHOOK_URL,
    logLevel: env.LOG_LEVEL,
    /** Every secret value in the config, for the redactor. */
    secrets,
  };
  return deepFreeze(config);
}

/** The variables the skill runtime reads; `npm run skills` validates only these. */
export const SKILLS_ENV_KEYS = [
  'SKILLS_DIR', 'WORKSPACE_DIR', 'PYTHON_BIN', 'SKILL_TIMEOUT_MS', 'SKILL_MAX_CONCURRENCY', 'SKILL_QUEUE_MAX',
  'SKILL_MAX_OUTPUT_BYTES', 'SKILL_MODE', 'SKILL_SANDBOX', 'SKILL_RUN_AS', 'SKILL_ENV_ALLOW', 'SKILL_MEMORY_MB',
  'SKILL_MAX_PROCS', 'LOG_LEVEL',
  // Not read by skills: the gateway's files they must be kept out of.
  'DATA_DIR', 'TLS_CERT_FILE', 'TLS_KEY_FILE',
] as const;

export function skillsSection(env: Pick<Env, (typeof SKILLS_ENV_KEYS)[number]>, cwd: string) {
  const abs = (p: string) => path.resolve(cwd, expandHome(p));
  return {
    dir: abs(env.SKILLS_DIR),
    workspaceDir: abs(env.WORKSPACE_DIR),
    pythonBin: env.PYTHON_BIN,
    timeoutMs: env.SKILL_TIMEOUT_MS,
    maxConcurrency: env.SKILL_MAX_CONCURRENCY,
    queueMax: env.SKILL_QUEUE_MAX,
    maxOutputBytes: env.SKILL_MAX_OUTPUT_BYTES,
    mode: env.SKILL_MODE,
    sandbox: env.SKILL_SANDBOX,
    /** The gateway's own files (cwd, `.env`, DATA_DIR, TLS files): never reachable by a skill. */
    gatewayPaths: [cwd, path.join(cwd, '.env'), abs(env.DATA_DIR), abs(env.TLS_CERT_FILE), abs(env.TLS_KEY_FILE)],
    runAs: env.SKILL_RUN_AS,
    envAllow: env.SKILL_ENV_ALLOW,
    memoryMb: env.SKILL_MEMORY_MB,
    maxProcs: env.SKILL_MAX_PROCS,
  };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Set)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
