import type { FastifyError, FastifyInstance } from 'fastify';
import { SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * Every error leaves as JSON `{"error": "..."}` with a fitting status, never a stack trace.
 * Fastify's own client errors (415, 413, 400 ...) keep their status and a plain message; ours
 * (SG_*) take the status the catalogue gives them.
 */
export function installJsonErrors(app: FastifyInstance, logger: Logger): void {
  installErrorHandler(app, logger);
  installNotFound(app);
}

/** The error half of installJsonErrors: inherited by every scope registered after it. */
export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const given = err instanceof SkillgateError ? err.httpStatus : err.statusCode;
    const status = given && given >= 400 && given < 600 ? given : 500;
    if (status >= 500) {
      logger.error({ err, url: request.routeOptions.url }, 'Request failed');
      void reply.code(status).send({ error: 'Internal Server Error' });
      return;
    }
    void reply.code(status).send({ error: clientMessage(err, status) });
  });
}

/** 404 JSON for the paths no route of `app`'s prefix serves, with `app`'s hooks (helmet's, on the main listener). */
export function installNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: 'Not Found' });
  });
}

function clientMessage(err: FastifyError, status: number): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported Media Type: send application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Payload Too Large: the limit is 1 MiB';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Bad Request: empty body';
    default:
      return status === 429 ? 'Too Many Requests' : err.message;
  }
}
