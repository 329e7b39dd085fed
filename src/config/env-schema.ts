import { isIP } from 'node:net';
import { z } from 'zod';
// Telegram's published limits live where they are enforced; the variables only override them.
import { DEFAULT_SEND_RATE_LIMITS } from '../telegram/rate-limiter.js';

/**
 * The environment, validated once at start: each variable's doc and default stand here, next to
 * it, and nowhere else in the code (.env.example and the README describe them for operators).
 * A refusal names the variable and the fix; it never echoes the value, which may be a secret.
 */

/** Every int(...) field has a default, so the fix always includes "unset it". */
const int = (min: number, max: number) => {
  const fix = `(an integer from ${min} to ${max}; unset it for the default)`;
  return z.coerce
    .number({ error: `must be an integer ${fix}` })
    .int(`must be an integer ${fix}`)
    .min(min, `must be >= ${min} ${fix}`)
    .max(max, `must be <= ${max} ${fix}`);
};
const rate = z.coerce.number({ error: 'must be a number (messages per second, e.g. 0.5)' }).positive('must be > 0 (messages per second, e.g. 0.5)');
const onOff = z.enum(['on', 'off'], { error: 'must be "on" or "off"' });
const httpUrl = (message: string) => z.url({ protocol: /^https?$/, hostname: /./, error: message });
const csv = (s: string) => s.split(',').map((p) => p.trim()).filter(Boolean);
/** Trailing slashes dropped once here, so every user of the value can append a path. */
const withoutTrailingSlash = (u: string) => u.replace(/\/+$/, '');
/** What proxy-addr (Fastify's trustProxy) accepts: an address, a CIDR or netmask, or a named range. */
const isProxyAddress = (entry: string) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  return /^\d{1,3}$/.test(range) ? Number(range) <= (family === 4 ? 32 : 128) : isIP(range) === family;
};

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

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
  TELEGRAM_API_BASE: httpUrl('must be an http(s) URL').default('https://api.telegram.org').transform(withoutTrailingSlash),
  /** Default 40. max_connections passed to setWebhook. */
  TELEGRAM_MAX_CONNECTIONS: int(1, 100).default(40),
  /** Default 30. Outgoing messages per second, all chats together (Telegram's broadcast limit). */
  TELEGRAM_SEND_RATE: rate.default(DEFAULT_SEND_RATE_LIMITS.globalPerSecond),
  /** Default 1. Outgoing messages per second in one chat (bursts of 3 allowed). */
  TELEGRAM_CHAT_SEND_RATE: rate.default(DEFAULT_SEND_RATE_LIMITS.perChatPerSecond),
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
    .transform(withoutTrailingSlash)
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
  /**
   * Unset by default: durable state is SQLite in DATA_DIR. A postgres:// URL keeps it in PostgreSQL
   * instead, so several replicas behind one proxy share it (section 7 of the contract).
   */
  DATABASE_URL: z
    .string()
    .refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL with a host, e.g. postgres://skillgate:PASSWORD@127.0.0.1:5432/skillgate')
    .optional(),
  /** Default: the host name. This replica's name in the database, the logs and the `replica` metric label. */
  REPLICA_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, dashes or underscores').optional(),
  /** Default 5000. A replica silent this long is presumed dead and its chats move to another replica. */
  REPLICA_LEASE_MS: int(1_000, 600_000).default(5_000),
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

function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}
