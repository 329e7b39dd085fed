import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig, loadEnvKeys, loadSkillsConfig, readEnv } from '../../src/config/index.js';
import { ConfigError, EXIT_CONFIG } from '../../src/errors.js';

const TOKEN = '123456789:AAHfakeTokenForConfigTests_0123456789';
const base = {
  TELEGRAM_BOT_TOKEN: TOKEN,
  TELEGRAM_ALLOWED_USER_IDS: '111,222',
  TELEGRAM_WEBHOOK_SECRET: 'secret_value-1',
};

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env, '/srv/app');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('a minimal valid environment gives the documented defaults', async (t) => {
  const c = loadConfig(base, '/srv/app');
  t.equal(c.telegram.mode, 'webhook');
  t.same([...c.telegram.allowedUserIds], [111, 222]);
  t.equal(c.telegram.apiBase, 'https://api.telegram.org');
  t.same(c.telegram.sendRate, { globalPerSecond: 30, perChatPerSecond: 1 }, 'Telegram\'s own limits');
  t.equal(c.http.webhookPath, '/telegram/webhook');
  t.equal(c.http.host, '0.0.0.0');
  t.equal(c.http.port, 9000);
  t.equal(c.http.tls, true);
  t.equal(c.http.certFile, '/srv/app/certs/cert.pem');
  t.equal(c.http.adminHost, '127.0.0.1');
  t.equal(c.http.adminPort, 9001);
  t.equal(c.llm, undefined, 'rule router without OPENAI_*');
  t.equal(c.skills.dir, '/srv/app/skills');
  t.equal(c.skills.workspaceDir, path.join(os.homedir(), 'AI_BOOTCAMP'));
  t.equal(c.skills.timeoutMs, 30_000);
  t.equal(c.skills.maxConcurrency, 4);
  t.equal(c.skills.maxOutputBytes, 65_536);
  t.equal(c.skills.mode, 'warm');
  t.equal(c.skills.sandbox, 'auto');
  t.equal(c.dataDir, '/srv/app/data');
  t.equal(c.shutdownGraceMs, 10_000);
  t.equal(c.logLevel, 'info');
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.http), 'frozen');
});

t.test('DATABASE_URL: unset keeps SQLite; set, the replica is named by REPLICA_ID or the host name', async (t) => {
  t.equal(loadConfig(base, '/srv/app').database, undefined, 'SQLite in DATA_DIR by default');
  const url = 'postgresql://skillgate:hunter2-db-password@db.internal:5433/skillgate';
  const named = loadConfig({ ...base, DATABASE_URL: url, REPLICA_ID: 'gw-a', REPLICA_LEASE_MS: '8000' }, '/srv/app');
  t.same(named.database, { url, replicaName: 'gw-a', leaseMs: 8000 });
  t.same(loadConfig({ ...base, DATABASE_URL: url }, '/srv/app').database, { url, replicaName: os.hostname(), leaseMs: 5000 }, 'defaults');
  t.ok(named.secrets.includes(url) && named.secrets.includes('hunter2-db-password'), 'the URL and its password are secrets for the redactor');
  const err = (() => {
    try {
      loadConfig({ ...base, DATABASE_URL: 'mysql://u:hunter2-db-password@db/x' });
    } catch (e) {
      return e as Error;
    }
  })();
  t.notMatch(err?.message, 'hunter2-db-password', 'a refused URL is not echoed');
});

t.test('TLS=off listens on loopback by default', async (t) => {
  t.equal(loadConfig({ ...base, TLS: 'off' }).http.host, '127.0.0.1');
});

t.test('OPENAI_BASE_URL alone enables the LLM router (Ollama needs no key)', async (t) => {
  const c = loadConfig({ ...base, OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' });
  t.equal(c.llm?.baseUrl, 'http://127.0.0.1:11434/v1');
  t.equal(c.llm?.model, 'gpt-4o-mini');
  t.equal(c.llm?.maxSteps, 5);
});

t.test('any digits:secret token shape is accepted', async (t) => {
  t.equal(loadConfig({ ...base, TELEGRAM_BOT_TOKEN: '123:abc' }).telegram.token, '123:abc');
});

t.test('polling mode does not need a webhook secret', async (t) => {
  const c = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_ALLOWED_USER_IDS: '1', TELEGRAM_MODE: 'polling' });
  t.equal(c.telegram.mode, 'polling');
});

t.test('TELEGRAM_ALLOWED_CHAT_IDS: unset means no groups; negative ids and spaces are fine', async (t) => {
  t.same([...loadConfig(base).telegram.allowedChatIds], []);
  t.same([...loadConfig({ ...base, TELEGRAM_ALLOWED_CHAT_IDS: '-1001234567890, -4001,' }).telegram.allowedChatIds], [-1001234567890, -4001]);
});

t.test('every secret is listed for the redactor', async (t) => {
  const c = loadConfig({ ...base, OPENAI_API_KEY: 'sk-test-abcdef', DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/1/tokentokentoken' });
  for (const s of [TOKEN, 'secret_value-1', 'sk-test-abcdef', 'tokentokentoken']) t.ok(c.secrets.includes(s), s);
});

const cases: Array<[string, Record<string, string | undefined>, RegExp]> = [
  ['missing bot token', { ...base, TELEGRAM_BOT_TOKEN: undefined }, /^TELEGRAM_BOT_TOKEN: is required/],
  ['malformed bot token', { ...base, TELEGRAM_BOT_TOKEN: 'not-a-token' }, /^TELEGRAM_BOT_TOKEN: must look like/],
  ['missing allowlist', { ...base, TELEGRAM_ALLOWED_USER_IDS: undefined }, /^TELEGRAM_ALLOWED_USER_IDS: is required/],
  ['empty allowlist', { ...base, TELEGRAM_ALLOWED_USER_IDS: ' , ' }, /^TELEGRAM_ALLOWED_USER_IDS: must list at least one/],
  ['non-numeric allowlist', { ...base, TELEGRAM_ALLOWED_USER_IDS: '111,@bob' }, /^TELEGRAM_ALLOWED_USER_IDS: must contain only numeric/],
  ['chat id list with a name', { ...base, TELEGRAM_ALLOWED_CHAT_IDS: '-100123,@mygroup' }, /^TELEGRAM_ALLOWED_CHAT_IDS: must contain only numeric chat ids/],
  ['bad mode', { ...base, TELEGRAM_MODE: 'push' }, /^TELEGRAM_MODE: must be "webhook" or "polling"/],
  ['webhook without secret', { ...base, TELEGRAM_WEBHOOK_SECRET: undefined }, /^TELEGRAM_WEBHOOK_SECRET: is required in webhook mode/],
  ['secret with bad characters', { ...base, TELEGRAM_WEBHOOK_SECRET: 'has space!' }, /^TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters/],
  ['secret too long', { ...base, TELEGRAM_WEBHOOK_SECRET: 'a'.repeat(257) }, /^TELEGRAM_WEBHOOK_SECRET: must be 1-256/],
  ['api base not a URL', { ...base, TELEGRAM_API_BASE: 'api.telegram.org' }, /^TELEGRAM_API_BASE: must be an http\(s\) URL/],
  ['public URL over http', { ...base, PUBLIC_URL: 'http://bot.example.com' }, /^PUBLIC_URL: must start with https:\/\//],
  ['public URL on a port Telegram refuses', { ...base, PUBLIC_URL: 'https://bot.example.com:8080' }, /^PUBLIC_URL: port must be one of 443, 80, 88, 8443/],
  ['public URL not a URL', { ...base, PUBLIC_URL: 'bot.example.com' }, /^PUBLIC_URL: must be a URL/],
  ['webhook path without slash', { ...base, WEBHOOK_PATH: 'hook' }, /^WEBHOOK_PATH: must start with \//],
  ['port not a number', { ...base, PORT: 'eighty' }, /^PORT: must be an integer/],
  ['port out of range', { ...base, PORT: '70000' }, /^PORT: must be <= 65535/],
  ['TLS neither on nor off', { ...base, TLS: 'yes' }, /^TLS: must be "on" or "off"/],
  ['admin port negative', { ...base, ADMIN_PORT: '-1' }, /^ADMIN_PORT: must be >= 0/],
  ['base URL not a URL', { ...base, OPENAI_BASE_URL: 'localhost:11434' }, /^OPENAI_BASE_URL: must be an http\(s\) URL/],
  ['skill timeout too small', { ...base, SKILL_TIMEOUT_MS: '5' }, /^SKILL_TIMEOUT_MS: must be >= 100/],
  ['skill concurrency zero', { ...base, SKILL_MAX_CONCURRENCY: '0' }, /^SKILL_MAX_CONCURRENCY: must be >= 1/],
  ['skill mode unknown', { ...base, SKILL_MODE: 'hot' }, /^SKILL_MODE: must be "warm" or "cold"/],
  ['sandbox unknown', { ...base, SKILL_SANDBOX: 'docker' }, /^SKILL_SANDBOX: must be "auto", "landlock", "bwrap" or "none"/],
  ['discord URL not a URL', { ...base, DISCORD_WEBHOOK_URL: 'discord' }, /^DISCORD_WEBHOOK_URL: must be an http\(s\) URL/],
  ['log level unknown', { ...base, LOG_LEVEL: 'loud' }, /^LOG_LEVEL: must be one of/],
  ['shutdown grace not a number', { ...base, SHUTDOWN_GRACE_MS: '10s' }, /^SHUTDOWN_GRACE_MS: must be an integer/],
  ['send rate not a number', { ...base, TELEGRAM_SEND_RATE: 'fast' }, /^TELEGRAM_SEND_RATE: must be a number \(messages per second/],
  ['chat send rate zero', { ...base, TELEGRAM_CHAT_SEND_RATE: '0' }, /^TELEGRAM_CHAT_SEND_RATE: must be > 0/],
  ['a fractional integer', { ...base, CHAT_CONCURRENCY: '1.5' }, /^CHAT_CONCURRENCY: must be an integer/],
  ['a database URL of another kind', { ...base, DATABASE_URL: 'mysql://u:p@db/skillgate' }, /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ['a database URL without a host', { ...base, DATABASE_URL: 'postgres:///skillgate' }, /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL with a host/],
  ['a database URL that is not a URL', { ...base, DATABASE_URL: 'skillgate@db' }, /^DATABASE_URL: must be a postgres:\/\//],
  ['a replica id with a space', { ...base, REPLICA_ID: 'gateway one' }, /^REPLICA_ID: must be 1 to 64 letters, digits, dots, dashes or underscores/],
];

for (const [name, env, pattern] of cases) {
  t.test(`config refuses ${name} with a line naming the variable`, async (t) => {
    const lines = problems(env);
    t.equal(lines.length, 1, lines.join(' | '));
    t.match(lines[0], pattern);
  });
}

t.test('every problem is reported at once, one line each', async (t) => {
  const lines = problems({ TELEGRAM_MODE: 'webhook', PORT: 'x', SKILL_MODE: 'y' });
  t.ok(lines.length >= 5, lines.join('\n'));
  t.ok(lines.some((l) => l.startsWith('TELEGRAM_WEBHOOK_SECRET: is required')), 'the missing secret is among them');
  t.ok(lines.every((l) => /^[A-Z_]+: /.test(l)));
});

t.test('a config error never echoes the offending value', async (t) => {
  const leaked = '999:not a token!';
  const err = (() => {
    try {
      loadConfig({ ...base, TELEGRAM_BOT_TOKEN: leaked, TELEGRAM_WEBHOOK_SECRET: 'bad secret with spaces' });
    } catch (e) {
      return e as ConfigError;
    }
  })();
  t.ok(err instanceof ConfigError);
  t.equal(err!.exitCode, EXIT_CONFIG);
  t.equal(err!.code, 'SG_CONFIG_INVALID');
  t.notMatch(err!.message, leaked);
  t.notMatch(err!.message, 'bad secret with spaces');
});

t.test('.env in the working directory is read; the real environment wins; empty means unset', async (t) => {
  const dir = t.testdir({ '.env': `TELEGRAM_BOT_TOKEN=${TOKEN}\nTELEGRAM_ALLOWED_USER_IDS=5\nPORT=1234\nHOST=\nTELEGRAM_WEBHOOK_SECRET="quoted_secret"\n` });
  const env = readEnv({ PORT: '4321' }, dir);
  const c = loadConfig(env, dir);
  t.equal(c.http.port, 4321);
  t.equal(c.http.host, '0.0.0.0');
  t.equal(c.telegram.webhookSecret, 'quoted_secret');
  t.same([...c.telegram.allowedUserIds], [5]);
});

t.test('no .env is fine', async (t) => {
  const dir = t.testdir({});
  t.same(readEnv({ A: '1' }, dir), { A: '1' });
});

t.test('an unreadable .env is a config error', async (t) => {
  const dir = t.testdir({ '.env': { nested: 'x' } }); // a directory named .env
  t.throws(() => readEnv({}, dir), ConfigError);
  t.ok(fs.existsSync(path.join(dir, '.env')));
});

t.test('the skills CLI needs no bot token', async (t) => {
  const s = loadSkillsConfig({ SKILL_MODE: 'cold' }, '/srv/app');
  t.equal(s.mode, 'cold');
  t.equal(s.dir, '/srv/app/skills');
  t.throws(() => loadSkillsConfig({ SKILL_MODE: 'x' }), ConfigError);
});

t.test('loadEnvKeys validates only the keys asked for', async (t) => {
  t.same(loadEnvKeys({ DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/1/x' }, ['DISCORD_WEBHOOK_URL']), {
    DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/1/x',
  });
  t.throws(() => loadEnvKeys({ DISCORD_WEBHOOK_URL: 'nope' }, ['DISCORD_WEBHOOK_URL']), /DISCORD_WEBHOOK_URL/);
});

t.test('TRUST_PROXY takes addresses, CIDRs and proxy-addr\'s named ranges, and names itself otherwise', async (t) => {
  t.same(loadConfig({ ...base, TRUST_PROXY: '127.0.0.1, 172.18.0.0/16,::1,10.0.0.0/255.0.0.0,loopback' }, '/srv/app').http.trustProxy, [
    '127.0.0.1',
    '172.18.0.0/16',
    '::1',
    '10.0.0.0/255.0.0.0',
    'loopback',
  ]);
  for (const bad of ['proxy.example.com', '127.0.0.1/33', '10.0.0.0/8/8', '*']) {
    t.match(problems({ ...base, TRUST_PROXY: bad }), [/^TRUST_PROXY: must be comma-separated IP addresses or CIDRs/], bad);
  }
});

/** Every integer variable, with its range: a value outside it is refused naming the range and the fix. */
const INTEGER_RANGES: Array<[string, number, number]> = [
  ['TELEGRAM_MAX_CONNECTIONS', 1, 100], ['PORT', 0, 65535], ['ADMIN_PORT', 0, 65535],
  ['LLM_MAX_STEPS', 1, 50], ['LLM_TIMEOUT_MS', 1000, 600_000], ['LLM_MAX_RETRIES', 0, 10], ['LLM_TOTAL_TIMEOUT_MS', 1000, 3_600_000],
  ['LLM_HISTORY_TURNS', 0, 500], ['LLM_HISTORY_CHARS', 0, 1_000_000], ['SKILL_TIMEOUT_MS', 100, 3_600_000], ['SKILL_MAX_CONCURRENCY', 1, 256],
  ['SKILL_QUEUE_MAX', 0, 10_000], ['SKILL_MAX_OUTPUT_BYTES', 256, 64 * 1024 * 1024], ['SKILL_MEMORY_MB', 16, 1_048_576], ['SKILL_MAX_PROCS', 8, 65_536],
  ['INBOX_MAX_PENDING', 1, 10_000_000], ['CHAT_CONCURRENCY', 1, 1024], ['SHUTDOWN_GRACE_MS', 0, 600_000], ['APPROVAL_TTL_S', 10, 86_400],
  ['REPLICA_LEASE_MS', 1000, 600_000],
];

for (const [name, min, max] of INTEGER_RANGES) {
  t.test(`${name} outside ${min}..${max} is refused with the range and the fix`, async (t) => {
    const fix = `(an integer from ${min} to ${max}; unset it for the default)`;
    t.same(problems({ ...base, [name]: String(min - 1) }), [`${name}: must be >= ${min} ${fix}`]);
    t.same(problems({ ...base, [name]: String(max + 1) }), [`${name}: must be <= ${max} ${fix}`]);
    t.same(problems({ ...base, [name]: 'many' }), [`${name}: must be an integer ${fix}`]);
    t.doesNotThrow(() => loadConfig({ ...base, [name]: String(min) }), 'the bound itself is fine');
  });
}

t.test('the Bot API base and PUBLIC_URL lose trailing slashes once, in the schema', async (t) => {
  const c = loadConfig({ ...base, TELEGRAM_API_BASE: 'http://127.0.0.1:8081//', PUBLIC_URL: 'https://bot.example.com/' });
  t.equal(c.telegram.apiBase, 'http://127.0.0.1:8081');
  t.equal(c.http.publicUrl, 'https://bot.example.com');
  t.same(loadEnvKeys({ TELEGRAM_API_BASE: 'https://api.telegram.org/' }, ['TELEGRAM_API_BASE']), { TELEGRAM_API_BASE: 'https://api.telegram.org' }, 'the CLIs get the same value');
});
