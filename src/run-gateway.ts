/**
 * The gateway process behind `src/main.ts`: configuration from the environment and `.env`, then
 * the gateway until a signal. Exit codes: 0 after a clean shutdown, 78 for configuration
 * problems, 1 for anything else.
 */
import closeWithGrace from 'close-with-grace';
import { DiscordAlerter } from './alerts/discord.js';
import { loadConfig, loadEnvKeys, privatePaths, readEnv, warnLoosePermissions, type Config } from './config/index.js';
import { ConfigError, exitCodeOf, PortInUseError, SkillgateError } from './errors.js';
import { Gateway } from './gateway/app.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createRedactor, type Redactor } from './observability/redact.js';
import { outboundSecrets } from './security/outbound-secrets.js';
import { endStartUp } from './v8-start-up.js';

/** How long a start failure waits for its Discord alert. */
const ALERT_FLUSH_MS = 3_000;

async function main(): Promise<void> {
  const env = readEnvOrExit();
  let config: Config;
  try {
    config = loadConfig(env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) return failConfig(err, env);
    throw err;
  }
  // Built once (it compiles every secret's forms) and shared by the logger and the gateway.
  const redact = createRedactor(outboundSecrets(config));
  const logger = createLogger({ level: config.logLevel, redact });
  warnLoosePermissions(privatePaths(config, process.cwd()), logger, process.cwd());

  let gateway: Gateway | undefined;
  const closer = closeWithGrace(
    { delay: config.shutdownGraceMs + 5_000, skip: ['SIGHUP'], logger: false },
    async ({ signal, err }) => {
      if (err) {
        logger.fatal({ err }, 'Uncaught error; shutting down');
        gateway?.alerter.alert(`Gateway crashed: ${(err as Error).message}`);
      } else if (signal) {
        logger.info({ signal }, `Received ${signal}`);
      }
      await gateway?.stop();
    },
  );
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading skills');
    void gateway?.reloadSkills();
  });

  try {
    gateway = await Gateway.start({ config, logger, redact, env: process.env });
    endStartUp();
  } catch (err) {
    closer.uninstall();
    await exitWithStartupError(err, logger, config, redact);
  }
}

function readEnvOrExit() {
  try {
    return readEnv(process.env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`${line}\n`);
      process.exit(err.exitCode);
    }
    throw err;
  }
}

/** One line per problem, no stack; an alert too when Discord is configured correctly. */
async function failConfig(err: ConfigError, env: Record<string, string | undefined>): Promise<never> {
  for (const line of err.problems) process.stderr.write(`${line}\n`);
  await alertBestEffort(env, `Gateway did not start: configuration invalid (${err.problems.map((p) => p.split(':')[0]).join(', ')})`);
  process.exit(err.exitCode);
}

async function exitWithStartupError(err: unknown, logger: Logger, config: Config, redact: Redactor): Promise<never> {
  // The catalogue says which failures are configuration problems (78), e.g. SG_SANDBOX_UNAVAILABLE.
  const code = exitCodeOf(err);
  const message = err instanceof ConfigError ? err.problems.join('\n') : (err as Error).message;
  if (err instanceof SkillgateError) logger.fatal({ code: err.code }, message);
  else logger.fatal({ err }, `Start failed: ${message}`);
  const line = err instanceof PortInUseError || err instanceof ConfigError ? message : `Start failed: ${message}`;
  process.stderr.write(`${redact(line)}\n`);
  if (config.discordWebhookUrl) {
    await alertAndFlush(config.discordWebhookUrl, `Gateway did not start: ${message}`, logger, redact);
  }
  process.exit(code);
}

async function alertBestEffort(env: Record<string, string | undefined>, text: string): Promise<void> {
  try {
    const { DISCORD_WEBHOOK_URL: url } = loadEnvKeys(env, ['DISCORD_WEBHOOK_URL']);
    if (!url) return;
    const redact = createRedactor([url]);
    await alertAndFlush(url, text, createLogger({ level: 'silent', redact }), redact);
  } catch {
    // Alerts are best effort; the config error itself is already on stderr.
  }
}

/** Sends one start-failure alert and waits (bounded) for it to go out. */
async function alertAndFlush(url: string, text: string, logger: Logger, redact: Redactor): Promise<void> {
  const alerter = new DiscordAlerter({ url, logger, redact });
  alerter.alert(text);
  await keepingProcessAlive(alerter.flush(ALERT_FLUSH_MS), ALERT_FLUSH_MS);
}

/**
 * The alerter's timers are unref'd (they must never hold a running gateway open), so while only a
 * flush is pending Node would see an empty event loop and exit with code 13 before our own exit
 * code. A plain timer keeps the process alive for the flush's deadline.
 */
async function keepingProcessAlive<T>(work: Promise<T>, deadlineMs: number): Promise<T> {
  const keepAlive = setTimeout(() => {}, deadlineMs + 500);
  try {
    return await work;
  } finally {
    clearTimeout(keepAlive);
  }
}

await main();
