/**
 * `npm run webhook:set | webhook:info | webhook:delete`: the webhook registration from the shell,
 * with the same code the gateway uses at start. `set` refuses a PUBLIC_URL Telegram would reject,
 * uploads the certificate when it is self-signed, and accepts `--drop-pending` and
 * `--ip-address ADDR`; every command ends by printing getWebhookInfo.
 * Exit codes: 0 done, 1 Telegram refused or was unreachable, 64 bad usage, 78 configuration.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEnvKeys, readEnv } from '../src/config/index.js';
import { ConfigError, SkillgateError } from '../src/errors.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedactor } from '../src/observability/redact.js';
import { TelegramApi } from '../src/telegram/api-client.js';
import {
  ALLOWED_UPDATES,
  describeWebhookInfo,
  forgetRegistration,
  registerWebhook,
  type WebhookSettings,
} from '../src/telegram/webhook-registration.js';

const USAGE = 'Usage: npm run webhook:set [-- --drop-pending] [-- --ip-address ADDR] | npm run webhook:info | npm run webhook:delete [-- --drop-pending]';
const EXIT_USAGE = 64;
const KEYS = [
  'TELEGRAM_BOT_TOKEN', 'TELEGRAM_API_BASE', 'TELEGRAM_WEBHOOK_SECRET', 'TELEGRAM_MAX_CONNECTIONS', 'PUBLIC_URL',
  'WEBHOOK_PATH', 'TLS', 'TLS_CERT_FILE', 'DATA_DIR', 'LOG_LEVEL',
] as const;

async function main(argv: string[]): Promise<number> {
  let command: string | undefined;
  let flags: { 'drop-pending'?: boolean; 'ip-address'?: string };
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'drop-pending': { type: 'boolean' }, 'ip-address': { type: 'string' } },
    });
    [command] = parsed.positionals;
    flags = parsed.values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (command !== 'set' && command !== 'info' && command !== 'delete') {
    console.error(USAGE);
    return EXIT_USAGE;
  }

  const cwd = process.cwd();
  let env: ReturnType<typeof loadEnvKeys<(typeof KEYS)[number]>>;
  try {
    env = loadEnvKeys(readEnv(process.env, cwd), KEYS);
    if (env.TELEGRAM_BOT_TOKEN === undefined) throw new ConfigError(['TELEGRAM_BOT_TOKEN: is required (get one from @BotFather)']);
    if (command === 'set' && env.PUBLIC_URL === undefined) {
      throw new ConfigError(['PUBLIC_URL: is required for webhook:set (the https:// address Telegram should call, port 443, 80, 88 or 8443)']);
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.problems.join('\n'));
    return err.exitCode;
  }

  const redact = createRedactor([env.TELEGRAM_BOT_TOKEN, env.TELEGRAM_WEBHOOK_SECRET ?? '']);
  const verbose = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
  const logger = createLogger({ level: verbose ? env.LOG_LEVEL : 'warn', redact, destination: process.stderr, pretty: false });
  const api = new TelegramApi({ token: env.TELEGRAM_BOT_TOKEN, apiBase: env.TELEGRAM_API_BASE, logger, redact });
  const dataDir = path.resolve(cwd, env.DATA_DIR);
  try {
    if (command === 'set') {
      if (!env.TELEGRAM_WEBHOOK_SECRET) {
        console.error('Warning: TELEGRAM_WEBHOOK_SECRET is not set; the gateway refuses webhook deliveries without it.');
      }
      const settings: WebhookSettings = {
        publicUrl: env.PUBLIC_URL!,
        webhookPath: env.WEBHOOK_PATH,
        secret: env.TELEGRAM_WEBHOOK_SECRET,
        maxConnections: env.TELEGRAM_MAX_CONNECTIONS,
        certFile: env.TLS === 'on' ? path.resolve(cwd, env.TLS_CERT_FILE) : undefined,
        dataDir,
      };
      const result = await registerWebhook(api, settings, {
        dropPendingUpdates: flags['drop-pending'],
        ipAddress: flags['ip-address'],
      });
      console.log(`Webhook set: ${result.url}`);
      console.log(`  allowed_updates: ${ALLOWED_UPDATES.join(', ')}`);
      console.log(`  secret_token: ${settings.secret ? 'set' : 'NOT set'}`);
      console.log(`  certificate: ${result.certificateUploaded ? 'uploaded (self-signed)' : 'not uploaded (CA-signed, or TLS terminated by a proxy)'}`);
    } else if (command === 'delete') {
      await api.deleteWebhook(flags['drop-pending'] ? { drop_pending_updates: true } : {});
      await forgetRegistration(dataDir);
      console.log(`Webhook deleted${flags['drop-pending'] ? ' (pending updates dropped)' : ''}.`);
    }
    const info = await api.getWebhookInfo();
    console.log('getWebhookInfo:');
    for (const line of describeWebhookInfo(info)) console.log(`  ${line}`);
    return 0;
  } catch (err) {
    if (!(err instanceof SkillgateError)) throw err;
    const exit = err.exitCode;
    console.error(redact(err.message));
    return exit;
  } finally {
    await api.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
