import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * The environment, validated once at start. Every variable is documented in .env.example and
 * the README; each default is stated here, next to the variable, and nowhere else.
 * Messages never echo the offending value: it may be a secret.
 */

const int = (min: number, max: number) => z.coerce.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);
const onOff = z.enum(['on', 'off'], { error: 'must be "on" or "off"' });
const httpUrl = (message: string) => z.url({ protocol: /^https?$/, hostname: /./, error: message });
const csv = (s: string) => s.split(',').map((p) => p.trim()).filter(Boolean);
/** What proxy-addr (Fastify's trustProxy) accepts: an address, a CIDR or netmask, or a named range. */
const isProxyAddress = (entry: string) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  return /^\d{1,3}$/.test(range) ? Number(range) <= (family === 4 ? 32 : 128) : isIP(range) === family;
};

/** Telegram only delivers webhooks to these ports. */
export const TELEGRAM_WEBHOOK_PORTS = [443, 80, 88, 8443] as const;

export const envSchema = z.object({
  /** Required. Bot token from @BotFather, `digits:secret`. */
  TELEGRAM_BOT_TOKEN: z
    .string({ error: 'is required (get one from @BotFather)' })
    .regex(/^\d+:[A-Za-z0-9_-]+$/, 'must look like 123456789:AA... (digits, a colon, then the secret)'),
  /** Required, non-empty. Comma-separated numeric Telegram user ids allowed to talk to the bot. */
  TELEGRAM_ALLOWED_USER_IDS: z
    .string({ error: 'is required: comma-separated numeric user ids (ask @userinfobot for yours)' })
    .transform(csv)
    .pipe(
      z
        .array(z.string().regex(/^\d{1,20}$/, 'must contain only numeric user ids'))
        .min(1, 'must list at least one user id'),
    ),
  /**
   * Unset by default: groups are ignored. Comma-separated group/supergroup chat ids (negative,
   * e.g. -1001234567890) where allowed users may address the bot.
   */
  TELEGRAM_ALLOWED_CHAT_IDS: z
    .string()
    .transform(csv)
    .pipe(z.array(z.string().regex(/^-?\d{1,20}$/, 'must contain only numeric chat ids (groups are negative, e.g. -1001234567890)')))
    .optional(),
  /** `webhook` (default) or `polling`. */
  TELEGRAM_MODE: z.enum(['webhook', 'polling'], { error: 'must be "webhook" or "polling"' }).default('webhook'),
  /** Required in webhook mode: 1-256 chars of A-Za-z0-9_- sent by Telegram in X-Telegram-Bot-Api-Secret-Token. */
  TELEGRAM_WEBHOOK_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -')
    .optional(),
  /** Default https://api.telegram.org. Tests and the demo point it at a loopback emulator. */
  TELEGRAM_API_BASE: httpUrl('must be an http(s) URL').default('https://api.telegram.org'),
  /** Default 40. max_connections passed to setWebhook. */
  TELEGRAM_MAX_CONNECTIONS: int(1, 100).default(40),
  /** Default 30. Outgoing messages per second, all chats together (Telegram's broadcast limit). */
  TELEGRAM_SEND_RATE: z.coerce.number({ error: 'must be a number' }).positive('must be > 0').default(30),
  /** Default 1. Outgoing messages per second in one chat (bursts of 3 allowed). */
  TELEGRAM_CHAT_SEND_RATE: z.coerce.number({ error: 'must be a number' }).positive('must be > 0').default(1),
  /** Unset by default. https://host[:443|80|88|8443]; when set, the webhook is registered at start. */
  PUBLIC_URL: z
    .url({ error: 'must be a URL like https://bot.example.com' })
    .refine((u) => safeUrl(u) === undefined || safeUrl(u)?.protocol === 'https:', 'must start with https:// (Telegram only calls HTTPS webhooks)')
    .refine(
      (u) => {
        const p = safeUrl(u)?.port;
        return p === undefined || p === '' || (TELEGRAM_WEBHOOK_PORTS as readonly number[]).includes(Number(p));
      },
      `port must be one of ${TELEGRAM_WEBHOOK_PORTS.join(', ')} (the only ports Telegram delivers to)`,
    )
    .optional(),
  /** Default /telegram/webhook. */
  WEBHOOK_PATH: z.string().regex(/^\/[A-Za-z0-9_\-/.]*$/, 'must start with / and contain only URL-safe characters').default('/telegram/webhook'),
  /** Default 0.0.0.0 with TLS, 127.0.0.1 without. */
  HOST: z.string().min(1).optional(),
  /** Default 9000. */
  PORT: int(0, 65535).default(9000),
  /** Default on. `off` only behind a TLS-terminating reverse proxy. */
  TLS: onOff.default('on'),
  /** Default certs/cert.pem. */
  TLS_CERT_FILE: z.string().default('certs/cert.pem'),
  /** Default certs/key.pem. */
  TLS_KEY_FILE: z.string().default('certs/key.pem'),
  /** Unset by default. Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed. */
  TRUST_PROXY: z
    .string()
    .transform(csv)
    .pipe(z.array(z.string().refine(isProxyAddress, 'must be comma-separated IP addresses or CIDRs of the proxy (e.g. 127.0.0.1 or 172.18.0.0/16)')))
    .optional(),
  /** Default 127.0.0.1. */
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  /** Default 9001; 0 turns the admin listener off. */
  ADMIN_PORT: int(0, 65535).default(9001),
  /** Unset by default. With neither this nor OPENAI_BASE_URL, the rule router is used. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** Unset by default (the SDK's default). Any OpenAI-compatible server. */
  OPENAI_BASE_URL: httpUrl('must be an http(s) URL').optional(),
  /** Default gpt-4o-mini. */
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Default 5. Tool-call rounds before the loop is cut. */
  LLM_MAX_STEPS: int(1, 50).default(5),
  /** Default 30000. Timeout of one LLM request. */
  LLM_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  /** Default 2. SDK retries on 429/5xx/network errors. */
  LLM_MAX_RETRIES: int(0, 10).default(2),
  /** Default 120000. Wall-time cap of one whole conversation turn (all steps). */
  LLM_TOTAL_TIMEOUT_MS: int(1000, 3_600_000).default(120_000),
  /** Default 20. Messages of per-chat history kept. */
  LLM_HISTORY_TURNS: int(0, 500).default(20),
  /** Default 16000. Characters of per-chat history kept. */
  LLM_HISTORY_CHARS: int(0, 1_000_000).default(16_000),
  /** Default ./skills. */
  SKILLS_DIR: z.string().default('./skills'),
  /** Default ~/AI_BOOTCAMP. The skills' cwd and the only tree they are meant to touch. */
  WORKSPACE_DIR: z.string().default('~/AI_BOOTCAMP'),
  /** Default python3. Resolved once at start to sys.executable. */
  PYTHON_BIN: z.string().min(1).default('python3'),
  /** Default 30000. */
  SKILL_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
  /** Default 4. */
  SKILL_MAX_CONCURRENCY: int(1, 256).default(4),
  /** Default 64. Calls waiting for a slot beyond this are refused as busy. */
  SKILL_QUEUE_MAX: int(0, 10_000).default(64),
  /** Default 65536. */
  SKILL_MAX_OUTPUT_BYTES: int(256, 64 * 1024 * 1024).default(65_536),
  /** Default warm. */
  SKILL_MODE: z.enum(['warm', 'cold'], { error: 'must be "warm" or "cold"' }).default('warm'),
  /** Default auto: Landlock, else bwrap, else none with a WARN (section 6). */
  SKILL_SANDBOX: z.enum(['auto', 'landlock', 'bwrap', 'none'], { error: 'must be "auto", "landlock", "bwrap" or "none"' }).default('auto'),
  /** Default 1024. Memory of one call's whole process tree (its cgroup), where cgroups are available. */
  SKILL_MEMORY_MB: int(16, 1_048_576).default(1024),
  /** Default 256. Processes of one call's whole tree (its cgroup's pids.max; RLIMIT_NPROC otherwise). */
  SKILL_MAX_PROCS: int(8, 65_536).default(256),
  /** Unset by default. A user name (or uid) skill processes drop to when the gateway runs as root. */
  SKILL_RUN_AS: z.string().min(1).optional(),
  /** Unset by default. Extra environment variable names passed through to skills. */
  SKILL_ENV_ALLOW: z.string().transform(csv).default([]),
  /** Default ./data. */
  DATA_DIR: z.string().default('./data'),
  /** Default 20000. Accepted-but-unfinished updates above this get 503 + Retry-After. */
  INBOX_MAX_PENDING: int(1, 10_000_000).default(20_000),
  /** Default 16. Chats processed in parallel. */
  CHAT_CONCURRENCY: int(1, 1024).default(16),
  /** Default 10000. */
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  /** Default 300. Seconds an Approve button stays valid. */
  APPROVAL_TTL_S: int(10, 86_400).default(300),
  /** Unset by default: alerts off (one WARN at start). */
  DISCORD_WEBHOOK_URL: httpUrl('must be an http(s) URL').optional(),
  /** Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }).default('info'),
});

export type Env = z.infer<typeof envSchema>;

/** The configuration the rest of the code sees: resolved, typed, frozen. */
export interface Config {
  telegram: {
    token: string;
    allowedUserIds: ReadonlySet<number>;
    /** Groups and supergroups the bot works in; empty: groups are ignored. */
    allowedChatIds: ReadonlySet<number>;
    mode: 'webhook' | 'polling';
    webhookSecret: string | undefined;
    apiBase: string;
    maxConnections: number;
    sendRate: { globalPerSecond: number; perChatPerSecond: number };
  };
  http: {
    publicUrl: string | undefined;
    webhookPath: string;
    host: string;
    port: number;
    tls: boolean;
    certFile: string;
    keyFile: string;
    trustProxy: string[] | undefined;
    adminHost: string;
    adminPort: number;
  };
  llm:
    | undefined
    | {
        apiKey: string | undefined;
        baseUrl: string | undefined;
        model: string;
        maxSteps: number;
        timeoutMs: number;
        maxRetries: number;
        totalTimeoutMs: number;
        historyTurns: number;
        historyChars: number;
      };
  skills: {
    dir: string;
    workspaceDir: string;
    pythonBin: string;
    timeoutMs: number;
    maxConcurrency: number;
    queueMax: number;
    maxOutputBytes: number;
    mode: 'warm' | 'cold';
    sandbox: 'auto' | 'landlock' | 'bwrap' | 'none';
    /** The gateway's own files (cwd, `.env`, DATA_DIR, TLS files): never reachable by a skill. */
    gatewayPaths: string[];
    runAs: string | undefined;
    envAllow: string[];
    memoryMb: number;
    maxProcs: number;
  };
  dataDir: string;
  inboxMaxPending: number;
  chatConcurrency: number;
  shutdownGraceMs: number;
  approvalTtlS: number;
  discordWebhookUrl: string | undefined;
  logLevel: Env['LOG_LEVEL'];
  /** Every secret value in the config, for the redactor. */
  secrets: string[];
}

function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** Turns validated env into Config; `cwd` anchors relative paths. */
export function toConfig(env: Env, cwd: string): Config {
  const abs = (p: string) => path.resolve(cwd, expandHome(p));
  const tls = env.TLS === 'on';
  const llmEnabled = env.OPENAI_API_KEY !== undefined || env.OPENAI_BASE_URL !== undefined;
  const secrets = [env.TELEGRAM_BOT_TOKEN, env.TELEGRAM_WEBHOOK_SECRET, env.OPENAI_API_KEY, env.DISCORD_WEBHOOK_URL]
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  // The Discord webhook URL embeds its own token as the last path segment.
  if (env.DISCORD_WEBHOOK_URL) {
    const last = new URL(env.DISCORD_WEBHOOK_URL).pathname.split('/').filter(Boolean).pop();
    if (last && last.length >= 8) secrets.push(last);
  }
  const config: Config = {
    telegram: {
      token: env.TELEGRAM_BOT_TOKEN,
      allowedUserIds: new Set(env.TELEGRAM_ALLOWED_USER_IDS.map(Number)),
      allowedChatIds: new Set((env.TELEGRAM_ALLOWED_CHAT_IDS ?? []).map(Number)),
      mode: env.TELEGRAM_MODE,
      webhookSecret: env.TELEGRAM_WEBHOOK_SECRET,
      apiBase: env.TELEGRAM_API_BASE.replace(/\/+$/, ''),
      maxConnections: env.TELEGRAM_MAX_CONNECTIONS,
      sendRate: { globalPerSecond: env.TELEGRAM_SEND_RATE, perChatPerSecond: env.TELEGRAM_CHAT_SEND_RATE },
    },
    http: {
      publicUrl: env.PUBLIC_URL?.replace(/\/+$/, ''),
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
    inboxMaxPending: env.INBOX_MAX_PENDING,
    chatConcurrency: env.CHAT_CONCURRENCY,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    approvalTtlS: env.APPROVAL_TTL_S,
    discordWebhookUrl: env.DISCORD_WEBHOOK_URL,
    logLevel: env.LOG_LEVEL,
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

export function skillsSection(env: Pick<Env, (typeof SKILLS_ENV_KEYS)[number]>, cwd: string): Config['skills'] {
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
