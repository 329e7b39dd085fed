import fs from 'node:fs';
import path from 'node:path';
import type { Alerter } from '../../src/alerts/alerter.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/app.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { createCaptureStream, createLogger, type Logger } from '../../src/observability/logger.js';
import { createRedactor } from '../../src/observability/redact.js';
import { outboundSecrets } from '../../src/security/outbound-secrets.js';
import { FakeTelegram, type Fault } from '../../fakes/telegram.js';
import { TEST_SECRET, TEST_TOKEN } from './logger.js';
import type { TestContext } from './tap.js';

export interface WebhookGatewayOptions {
  /** The gateway's folder (its cwd): certs/ is written here; SKILLS_DIR etc. are relative to it. */
  dir: string;
  /** Added to (and overriding) the base environment: OPENAI_*, DISCORD_WEBHOOK_URL, ADMIN_PORT... */
  env?: Record<string, string>;
  /** The captured log's level. Default info. */
  logLevel?: string;
  alerter?: Alerter;
  /** Written before the PEM block of the TLS key (the key still serves HTTPS: text before BEGIN is ignored). */
  keyPrefix?: string;
  /** Faults the fake Telegram answers getMe with at start. */
  getMeFaults?: Fault[];
}

export interface WebhookGateway {
  gateway: Gateway;
  config: Config;
  telegram: FakeTelegram;
  /** The self-signed pair the gateway serves (its cert is what a client must trust). */
  tls: { cert: string; key: string };
  /** The webhook URL, registered with the fake Telegram. */
  url: string;
  /** The gateway's JSON log lines, through the same outbound redactor as the gateway's. */
  log: { logger: Logger; lines: string[]; text: () => string };
}

/**
 * A whole gateway in this process, webhook mode over real HTTPS with a fresh self-signed
 * certificate and the real Python skill host, with the fake Telegram as its Bot API and the
 * webhook registered there, so `telegram.pushUpdate` delivers the way Telegram does.
 * Outside services other than Telegram (OpenAI, Discord) are the caller's fakes, passed in `env`.
 */
export async function startWebhookGateway(t: TestContext, options: WebhookGatewayOptions): Promise<WebhookGateway> {
  const { dir } = options;
  const tls = await generateSelfSigned({ host: '127.0.0.1' });
  fs.mkdirSync(path.join(dir, 'certs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'certs/cert.pem'), tls.cert);
  fs.writeFileSync(path.join(dir, 'certs/key.pem'), `${options.keyPrefix ? `${options.keyPrefix}\n` : ''}${tls.key}`, { mode: 0o600 });
  const telegram = await FakeTelegram.start({ token: TEST_TOKEN });
  t.teardown(() => telegram.close());
  if (options.getMeFaults) telegram.failNext('getMe', ...options.getMeFaults);
  const config = loadConfig(
    {
      TELEGRAM_BOT_TOKEN: TEST_TOKEN,
      TELEGRAM_ALLOWED_USER_IDS: '111',
      TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
      TELEGRAM_API_BASE: telegram.apiBase,
      TELEGRAM_CHAT_SEND_RATE: '100',
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      TLS_CERT_FILE: 'certs/cert.pem',
      TLS_KEY_FILE: 'certs/key.pem',
      SKILLS_DIR: 'skills',
      WORKSPACE_DIR: 'workspace',
      DATA_DIR: 'data',
      ...options.env,
    },
    dir,
  );
  const redact = createRedactor(outboundSecrets(config));
  const lines: string[] = [];
  const logger = createLogger({ level: options.logLevel ?? 'info', redact, destination: createCaptureStream(lines), pretty: false });
  const gateway = await Gateway.start({ config, logger, redact, env: process.env, ...(options.alerter ? { alerter: options.alerter } : {}) });
  t.teardown(() => gateway.stop());
  const url = `https://127.0.0.1:${gateway.mainAddress!.port}${config.http.webhookPath}`;
  await gateway.api.setWebhook({ url, secret_token: TEST_SECRET, certificate: tls.cert });
  return { gateway, config, telegram, tls, url, log: { logger, lines, text: () => lines.join('\n') } };
}
