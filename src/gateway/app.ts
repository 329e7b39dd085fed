import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Alerter } from '../alerts/alerter.js';
import { alerterFor } from '../alerts/discord.js';
import type { Config } from '../config/index.js';
import { buildAdminServer } from '../http/admin-server.js';
import { buildMainServer } from '../http/server.js';
import { InboxDispatcher } from '../inbox/dispatcher.js';
import { openUpdateStore, type OpenedStore } from '../inbox/open-store.js';
import type { UpdateStore } from '../inbox/update-store.js';
import { AuditLog } from '../observability/audit.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { createRedactor, type Redactor } from '../observability/redact.js';
import { outboundSecrets } from '../security/outbound-secrets.js';
import type { IntentRouter } from '../router/types.js';
import { SkillRuntime } from '../skills/runtime.js';
import { TelegramApi } from '../telegram/api-client.js';
import { chatIdOf } from '../telegram/chat-id.js';
import { TelegramPoller } from '../telegram/polling.js';
import { ensureWebhook, sharedMarker } from '../telegram/webhook-registration.js';
import type { SendRateLimits } from '../telegram/rate-limiter.js';
import { ApprovalService } from './approvals.js';
import { identityFromToken, learnIdentity, type LearnedIdentity } from './bot-identity.js';
import { ChatMigrations } from './chat-migrations.js';
import { createUpdateHandler } from './handle-update.js';
import { HealthAlerts, healthCountingRunner } from './health-alerts.js';
import { InboxWatch } from './inbox-watch.js';
import { readinessOf, type Readiness } from './readiness.js';
import { listenOrExplain, readTls } from './listeners.js';
import { redactingRunner } from './redacting-runner.js';
import { ReplyPath } from './reply-path.js';
import { chooseRouter } from './router-choice.js';
import { isUnhandledType, unhandledAtIntake } from './unhandled-type.js';

/** How often the inbox backlog is compared with its alert threshold. */
const BACKLOG_CHECK_MS = 15_000;
/** How long cancelled handlers get to record their state before the store closes. */
const SETTLE_AFTER_CANCEL_MS = 3_000;

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** Default: a fresh Metrics with process metrics. */
  metrics?: Metrics;
  /** Default: Discord when DISCORD_WEBHOOK_URL is set, else silent. */
  alerter?: Alerter;
  /** The process environment skills may inherit from (PATH, HOME, LANG, TZ, SKILL_ENV_ALLOW). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The outbound redactor (main.ts shares its logger's). Default: built from the config. */
  redact?: Redactor;
  /** Outgoing message limits (the benchmark raises them; Telegram's real limits are the default). */
  sendRateLimits?: SendRateLimits;
}

/**
 * The composition root: builds every part from the Config, starts them in dependency order and
 * stops them in reverse. No part reaches for another on its own; everything is passed in here.
 */
export class Gateway {
  private closing = false;
  private readonly shutdown = new AbortController();
  private main: FastifyInstance | undefined;
  private admin: FastifyInstance | undefined;
  private poller: TelegramPoller | undefined;
  private dispatcher: InboxDispatcher | undefined;
  private audit: AuditLog | undefined;
  private webhookRegistered: boolean | undefined;
  private stopped: Promise<void> | undefined;
  private backlogTimer: NodeJS.Timeout | undefined;
  /** The id is the token's digits; the username comes from getMe, retried until it answers. */
  private readonly bot: LearnedIdentity;
  readonly inboxWatch: InboxWatch;

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly alerter: Alerter,
    readonly redact: Redactor,
    readonly store: UpdateStore,
    /** With DATABASE_URL: this process among the replicas, and in polling mode the poller election. */
    private readonly opened: OpenedStore,
    readonly skills: SkillRuntime,
    readonly api: TelegramApi,
    readonly router: IntentRouter,
  ) {
    this.bot = identityFromToken(config.telegram.token);
    this.inboxWatch = new InboxWatch({ store, alerter, logger, metrics });
  }

  /** Builds and starts everything; throws a SkillgateError the caller turns into an exit code. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const { config, logger } = options;
    const metrics = options.metrics ?? new Metrics({ processMetrics: true });
    const redact = options.redact ?? createRedactor(outboundSecrets(config));
    const alerter = options.alerter ?? alerterFor(config.discordWebhookUrl, { logger, redact, metrics });
    const { mode } = config.telegram;
    const { sandbox, mode: skillMode } = config.skills;
    logger.info({ mode, router: config.llm ? 'llm' : 'rules', store: config.database ? 'postgres' : 'sqlite', skillMode, sandbox }, 'Starting skillgate');
    logger.info(`Configured interface: ${config.telegram.mode === 'webhook' ? 'Telegram webhooks' : 'Telegram long polling'}`);

    // The watch exists only with the gateway; a failure before that is the start's own error.
    let watch: InboxWatch | undefined;
    const opened = await openUpdateStore(config, { logger, metrics, onHealthChange: (health) => watch?.storeHealthChanged(health) });
    const { store, replicas } = opened;
    let skills: SkillRuntime | undefined;
    try {
      skills = await SkillRuntime.create({ config: config.skills, logger, metrics, env: options.env });
      const api = new TelegramApi({
        token: config.telegram.token,
        apiBase: config.telegram.apiBase,
        logger,
        redact,
        metrics,
        sendRateLimits: options.sendRateLimits ?? config.telegram.sendRate,
        // Telegram's overall limit is the bot's: the live replicas split it evenly.
        sendRateShare: replicas ? () => 1 / replicas.liveReplicas() : undefined,
      });
      const router = await chooseRouter(config, { logger, metrics, alerter, redact, historyDocuments: replicas?.chatDocuments() });
      const gateway = new Gateway(config, logger, metrics, alerter, redact, store, opened, skills, api, router);
      watch = gateway.inboxWatch;
      await gateway.run();
      return gateway;
    } catch (err) {
      await skills?.close().catch(() => undefined);
      await store.close();
      throw err;
    }
  }

  /** Where the public listener is bound (undefined in polling mode). */
  get mainAddress(): AddressInfo | undefined {
    return (this.main?.server.address() as AddressInfo | null) ?? undefined;
  }

  get adminAddress(): AddressInfo | undefined {
    return (this.admin?.server.address() as AddressInfo | null) ?? undefined;
  }

  /** Re-reads SKILLS_DIR (SIGHUP). */
  async reloadSkills(): Promise<void> {
    await this.skills.reload();
  }

  /**
   * Graceful stop: refuse new updates (503), finish in-flight work within SHUTDOWN_GRACE_MS,
   * leave the rest in the store for the next start, close everything. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async run(): Promise<void> {
    const { config, logger } = this;
    await learnIdentity({ api: this.api, identity: this.bot, logger, signal: this.shutdown.signal });
    const health = new HealthAlerts(this.alerter, { backlogThreshold: Math.min(1000, Math.floor(config.inboxMaxPending / 2)) });
    // Message runs and approved runs alike: redacted, and counted toward the skill health streaks.
    const skills = healthCountingRunner(redactingRunner(this.skills, this.redact), health);
    const migrations = new ChatMigrations({ dataDir: config.dataDir, logger });
    // Every message the gateway sends goes through this one path, approvals included.
    const replies = new ReplyPath({ api: this.api, logger, health, redact: this.redact, migrations });
    const approvals = new ApprovalService({
      api: {
        sendMessage: (chatId, text, extra) => replies.sendMessage(chatId, text, extra),
        answerCallbackQuery: (id, text) => this.api.answerCallbackQuery(id, text),
        editMessageReplyMarkup: (chatId, messageId, markup) => this.api.editMessageReplyMarkup(chatId, messageId, markup),
      },
      runner: skills,
      dataDir: config.dataDir,
      records: this.opened.replicas?.approvals(),
      ttlSeconds: config.approvalTtlS,
      logger,
    });
    migrations.onMigrate((from, to) => approvals.migrate(from, to));
    migrations.onMigrate((from, to) => this.router.migrate?.(from, to));
    const audit = new AuditLog({ dir: config.dataDir, redact: this.redact, logger });
    this.audit = audit;
    this.backlogTimer = setInterval(() => health.backlog(this.store.pendingCount()), BACKLOG_CHECK_MS).unref();
    this.inboxWatch.start();
    const handler = createUpdateHandler({
      allowedUserIds: config.telegram.allowedUserIds,
      allowedChatIds: config.telegram.allowedChatIds,
      bot: this.bot,
      api: this.api,
      replies,
      migrations,
      router: this.router,
      skills,
      approvals,
      audit,
      alerter: this.alerter,
      health,
      logger,
      metrics: this.metrics,
      shutdownSignal: this.shutdown.signal,
    });
    const dispatcher = new InboxDispatcher({
      store: this.store,
      handler,
      concurrency: config.chatConcurrency,
      logger,
      metrics: this.metrics,
      alerter: this.alerter,
      audit,
      redact: this.redact,
    });
    this.dispatcher = dispatcher;
    dispatcher.start();

    if (config.telegram.mode === 'webhook') {
      await this.listenMain();
      if (config.http.publicUrl) void this.registerWebhook();
    } else {
      this.poller = new TelegramPoller({ api: this.api, store: this.store, dispatcher, logger, alerter: this.alerter, leadership: this.opened.leadership });
      this.poller.start();
    }
    await this.listenAdmin();
  }

  private async listenMain(): Promise<void> {
    const { http } = this.config;
    const tls = http.tls ? await readTls(http.certFile, http.keyFile) : undefined;
    this.main = await buildMainServer({
      logger: this.logger,
      tls,
      trustProxy: http.trustProxy,
      webhook: {
        path: http.webhookPath,
        secret: this.config.telegram.webhookSecret ?? '',
        intake: this.store,
        chatIdOf,
        isClosing: () => this.closing,
        decidedAtIntake: { matches: isUnhandledType, finished: unhandledAtIntake(this.audit, this.metrics, this.logger) },
        metrics: this.metrics,
      },
    });
    await listenOrExplain(this.main, http.host, http.port);
    const port = this.mainAddress?.port;
    this.logger.info({ port, path: http.webhookPath }, `Listening on ${tls ? 'HTTPS' : 'HTTP'} port ${port}`);
  }

  private async listenAdmin(): Promise<void> {
    const { adminHost, adminPort } = this.config.http;
    if (adminPort === 0) return;
    this.admin = await buildAdminServer({ logger: this.logger, metrics: this.metrics, readiness: () => this.readiness() });
    await listenOrExplain(this.admin, adminHost, adminPort);
    this.logger.info(`Admin listener on http://${adminHost}:${this.adminAddress?.port} (/healthz, /readyz, /metrics)`);
  }

  private async registerWebhook(): Promise<void> {
    try {
      // With several replicas the marker of the last registration is shared, so they agree on it.
      const marker = this.opened.replicas ? sharedMarker(this.store) : undefined;
      await ensureWebhook({ api: this.api, config: this.config, logger: this.logger, marker });
      this.webhookRegistered = true;
    } catch (err) {
      this.webhookRegistered = false;
      const message = this.redact((err as Error).message);
      this.logger.error({ err: message }, 'Webhook registration failed; run npm run webhook:set to see why');
      this.alerter.alert(`Webhook registration failed: ${message}`);
    }
  }

  private async readiness(): Promise<Readiness> {
    return readinessOf({
      skills: this.skills.status(),
      store: this.store,
      replicas: this.opened.replicas,
      inboxWatch: this.inboxWatch,
      closing: this.closing,
      webhookRegistered: this.config.telegram.mode === 'webhook' && this.config.http.publicUrl ? this.webhookRegistered : 'not used',
    });
  }

  private async doStop(): Promise<void> {
    this.closing = true;
    clearInterval(this.backlogTimer);
    this.inboxWatch.stop();
    this.logger.info({ graceMs: this.config.shutdownGraceMs }, 'Shutting down: intake stopped, draining in-flight updates');
    await this.poller?.stop();
    await this.opened.leadership?.release();
    await this.dispatcher?.stop(this.config.shutdownGraceMs);
    // Past the grace period: cancel what still runs (skills, LLM turns); their updates are not
    // answered now but stay in the store, so let them record that before the store closes.
    this.shutdown.abort();
    await this.dispatcher?.settle(SETTLE_AFTER_CANCEL_MS);
    await this.main?.close();
    await this.admin?.close();
    await this.skills.close();
    await this.store.close();
    this.audit?.close();
    await this.api.close();
    // Shutdown never waits on Discord longer than this.
    await (this.alerter.close ? this.alerter.close(2_000) : this.alerter.flush(2_000));
    this.logger.info('Stopped');
  }
}
