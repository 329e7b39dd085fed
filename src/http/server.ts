import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import { connectionLimits, guardConnections, timeoutOptions, type ConnectionLimits } from './connection-guard.js';
import { installErrorHandler, installNotFound } from './http-errors.js';
import { noSchemaCompilers } from './no-schema-compilers.js';
import { registerWebhookRoute, type WebhookRouteOptions } from './webhook-route.js';

/** Telegram's updates are small; 1 MiB is generous and bounds what a client can make us read. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface MainServerOptions {
  logger: Logger;
  /** PEM cert and key; omit for plain HTTP behind a TLS-terminating proxy (TLS=off). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Proxy addresses/CIDRs whose X-Forwarded-For is believed (request.ip). */
  trustProxy?: string[];
  webhook: Omit<WebhookRouteOptions, 'logger'>;
  /** Timeouts and connection caps; the contract's figures by default (tests shorten them). */
  connections?: Partial<ConnectionLimits>;
}

/**
 * The public listener: the webhook route and /healthz, behind helmet's headers, JSON errors
 * everywhere. Nothing else is exposed here; metrics and readiness live on the admin listener.
 */
export async function buildMainServer(options: MainServerOptions): Promise<FastifyInstance> {
  const limits = connectionLimits(options.connections);
  const httpLogger = options.logger.child({ component: 'http' });
  const timeouts = timeoutOptions(limits);
  const app = Fastify({
    ...(options.tls
      ? { https: { cert: options.tls.cert, key: options.tls.key, handshakeTimeout: timeouts.handshakeTimeout, ...timeouts.server } }
      : { http: timeouts.server }),
    ...timeouts.fastify,
    loggerInstance: httpLogger,
    schemaController: noSchemaCompilers,
    // Per-request lines would log every Telegram delivery twice; the pipeline logs what matters.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: options.trustProxy && options.trustProxy.length > 0 ? options.trustProxy : false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  // No child logger per request (issue 16): nothing logs through request.log with a request id
  // that matters, and pino's child() costs an object and a bindings string per update.
  app.setChildLoggerFactory((logger) => logger);
  guardConnections(app.server, limits, httpLogger, 'main');
  installErrorHandler(app, options.logger);
  // @fastify/helmet in a scope of its own, with /healthz and the 404 answer: everything but the
  // webhook. Helmet's plugin adds two onRequest hooks to every route of its scope, one of them
  // async, and builds a reply decorator per request even where a route opts out; the webhook
  // sets helmet's API-answer headers itself (webhook-route.ts) and runs one synchronous hook.
  await app.register(async (site) => {
    await site.register(helmet, { global: true });
    site.get('/healthz', async () => ({ status: 'ok' }));
    installNotFound(site);
  });
  await registerWebhookRoute(app, { ...options.webhook, logger: options.logger });
  return app;
}
