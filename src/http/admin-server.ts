import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ADMIN_GLOBAL, connectionLimits, guardConnections, timeoutOptions, type ConnectionLimits } from './connection-guard.js';
import { installJsonErrors } from './http-errors.js';
import { noSchemaCompilers } from './no-schema-compilers.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready, one short phrase each ("skills not loaded", "store closed"). */
  reasons: string[];
  detail?: object;
}

export interface AdminServerOptions {
  logger: Logger;
  metrics: Metrics;
  /** Asked on every /readyz; a throw counts as not ready. */
  readiness: () => Promise<Readiness>;
  /** Timeouts and connection caps; the contract's figures and a global cap of 256 by default. */
  connections?: Partial<ConnectionLimits>;
}

/**
 * The operator's listener: liveness, readiness and Prometheus metrics over plain HTTP. It binds
 * to 127.0.0.1 by default and is never the webhook listener, so scrapes and probes cannot be
 * reached from the internet and never compete with Telegram's deliveries.
 */
export async function buildAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  const limits = connectionLimits({ global: ADMIN_GLOBAL, ...options.connections });
  const timeouts = timeoutOptions(limits);
  const adminLogger = options.logger.child({ component: 'admin' });
  const app = Fastify({
    http: timeouts.server,
    ...timeouts.fastify,
    loggerInstance: adminLogger,
    schemaController: noSchemaCompilers,
    // Probes hit this every few seconds; a line per probe would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  guardConnections(app.server, limits, adminLogger, 'admin');
  installJsonErrors(app, options.logger);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    let state: Readiness;
    try {
      state = await options.readiness();
    } catch (err) {
      options.logger.warn({ err }, 'Readiness check failed');
      state = { ready: false, reasons: ['readiness check failed'] };
    }
    const body = { status: state.ready ? 'ready' : 'not ready', reasons: state.reasons, ...(state.detail ? { detail: state.detail } : {}) };
    return reply.code(state.ready ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await options.metrics.render();
    return reply.type(options.metrics.contentType).send(text);
  });

  return app;
}
