import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SkillgateError } from '../errors.js';
import type { AcceptResult } from '../inbox/store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { hasUpdateId } from '../telegram/update-schema.js';
import { createSecretChecker } from './secret-check.js';
import { apiHelmetHeaders } from './static-helmet.js';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** Wrong-secret requests allowed per address and window before 429. */
const FAILED_SECRET_LIMIT = 20;
const FAILED_SECRET_WINDOW_MS = 60_000;
const RETRY_AFTER_SECONDS = 5;

export type { AcceptResult };

/** Where accepted updates go: the durable inbox. Resolves only once the update is on disk. */
export interface UpdateIntake {
  /** payloadJson null: decided at intake, stored done so that a re-delivery is a duplicate. `payload`: the same update, parsed (kept for its first run). */
  accept(updateId: number, chatId: number | null, payloadJson: string | null, payload?: object): Promise<AcceptResult>;
}

export interface WebhookRouteOptions {
  path: string;
  secret: string;
  intake: UpdateIntake;
  chatIdOf: (update: unknown) => number | null;
  /** True once shutdown began: new updates get 503 and stay with Telegram. */
  isClosing: () => boolean;
  /** Updates nothing will be done with, decided here: stored done (never dispatched), then `finished` records them. */
  decidedAtIntake?: { matches: (update: unknown) => boolean; finished: (updateId: number) => void };
  logger: Logger;
  metrics?: Metrics;
}

type FailureCounter = ReturnType<FastifyInstance['createRateLimit']>;
/** A failure counter's answer for an address that is not on an allow list (we have none). */
type CountedFailures = Extract<Awaited<ReturnType<FailureCounter>>, { isAllowed: false }>;
interface FailureCounters {
  byClient: FailureCounter;
  byPeer: FailureCounter;
}

interface ParsedBody {
  raw: string;
  value: unknown;
}

/**
 * POST WEBHOOK_PATH. Order matters: the secret is checked before the body is read,
 * so a stranger cannot make us parse 1 MiB; then media type (415), size (413), JSON and update_id
 * (400); then the durable store, and only then 200. Anything Telegram cannot fix by retrying
 * (unknown update types, unknown fields) is accepted, because a non-2xx makes Telegram retry the
 * same update forever and stalls the bot.
 */
export async function registerWebhookRoute(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { logger, metrics } = options;
  const secretMatches = createSecretChecker(options.secret);
  const securityHeaders = apiHelmetHeaders();

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      const raw = body as string;
      try {
        done(null, { raw, value: JSON.parse(raw) } satisfies ParsedBody);
      } catch {
        done(new SkillgateError('SG_BAD_REQUEST', 'Bad Request: body is not valid JSON'), undefined);
      }
    });

    // Not a global hook: only failed guesses are counted, so a request with the right secret is
    // never rate-limited and pays nothing for the limiter.
    await scope.register(rateLimit, { global: false, max: FAILED_SECRET_LIMIT, timeWindow: FAILED_SECRET_WINDOW_MS });
    const failures: FailureCounters = {
      // The client as proxy-addr sees it (request.ip): the right-most X-Forwarded-For entry that
      // is not a trusted proxy, or the socket peer when no proxy is trusted.
      byClient: scope.createRateLimit(),
      // And the socket peer itself: anyone who can connect from a trusted proxy's address can
      // write any X-Forwarded-For, and rotating it must not buy more guesses. Counting the proxy
      // costs nothing legitimate, since the right secret is never limited.
      byPeer: scope.createRateLimit({ keyGenerator: (request) => `peer ${request.socket.remoteAddress ?? 'unknown'}` }),
    };

    scope.post(options.path, {
      // One synchronous hook, before the body is read (a stranger cannot make us parse 1 MiB):
      // the headers, the secret, shutdown. A hook that answers does not call done().
      onRequest: (request, reply, done) => {
        reply.headers(securityHeaders);
        if (!secretMatches(request.headers[SECRET_HEADER])) {
          rejectSecret(request, reply, failures).catch((err: unknown) => sendError(reply, err));
          return;
        }
        if (options.isClosing()) {
          unavailable(reply, 'shutting down');
          return;
        }
        done();
      },
      // Not async: the answer is sent from the store's settlement, without a promise per
      // request for Fastify to wrap.
      handler: (request: FastifyRequest, reply: FastifyReply) => {
        const body = request.body as ParsedBody | undefined;
        if (!body || !hasUpdateId(body.value)) {
          metrics?.updates.inc({ outcome: 'rejected_bad_request' });
          reply.code(400).send({ error: 'Bad Request: expected a JSON object with an integer update_id' });
          return;
        }
        const updateId = body.value.update_id;
        const decided = options.decidedAtIntake?.matches(body.value) === true;
        const answer = (result: AcceptResult) => {
          if (result === 'full') return unavailable(reply, 'inbox full');
          metrics?.updates.inc({ outcome: result });
          if (result === 'accepted') {
            logger.debug({ updateId }, 'Webhook: update stored');
            if (decided) options.decidedAtIntake!.finished(updateId);
          } else {
            logger.info({ updateId }, 'Webhook: duplicate update acknowledged and ignored');
          }
          // Empty: Telegram reads nothing from a 200 but an optional method call.
          return reply.code(200).send();
        };
        const refuse = (err: unknown) => {
          logger.error({ err, updateId }, 'Webhook: could not store the update; Telegram will retry it');
          return unavailable(reply, 'store unavailable');
        };
        options.intake
          .accept(updateId, options.chatIdOf(body.value), decided ? null : body.raw, decided ? undefined : body.value)
          .then(answer, refuse)
          .catch((err: unknown) => sendError(reply, err));
      },
    });
  });

  /**
   * 401, or 429 once this client address, or the socket peer it came through, has had more than
   * FAILED_SECRET_LIMIT failures in the window.
   */
  async function rejectSecret(request: FastifyRequest, reply: FastifyReply, failures: FailureCounters) {
    metrics?.updates.inc({ outcome: 'rejected_secret' });
    const [byClient, byPeer] = await Promise.all([failures.byClient(request), failures.byPeer(request)]);
    const peer = request.socket.remoteAddress;
    const where = peer === undefined || peer === request.ip ? request.ip : `${request.ip} (through ${peer})`;
    const limit = [byClient, byPeer].find((l): l is CountedFailures => !l.isAllowed && l.isExceeded);
    if (limit) {
      logger.warn({ ip: request.ip, peer }, `Webhook: more than ${FAILED_SECRET_LIMIT} wrong secrets in a minute from ${where}; answering 429`);
      return reply
        .code(429)
        .header('retry-after', String(limit.ttlInSeconds))
        .send({ error: `Too Many Requests: retry in ${limit.ttlInSeconds} s` });
    }
    logger.warn({ ip: request.ip, peer }, 'Webhook: request with a missing or wrong secret token rejected');
    return reply.code(401).send({ error: 'Unauthorized: missing or wrong X-Telegram-Bot-Api-Secret-Token' });
  }
}

/** A failure after the route took over the answer: Fastify's error handler, unless an answer went out. */
function sendError(reply: FastifyReply, err: unknown): void {
  if (!reply.sent) reply.send(err);
}

function unavailable(reply: FastifyReply, reason: string) {
  return reply
    .code(503)
    .header('retry-after', String(RETRY_AFTER_SECONDS))
    .send({ error: `Service Unavailable: ${reason}, retry later` });
}
