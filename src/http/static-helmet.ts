import helmet, { type HelmetOptions } from 'helmet';

/**
 * The response headers helmet sets for `options`, computed once.
 *
 * @fastify/helmet builds a new helmet middleware for every request (re-parsing the CSP directives)
 * and runs it through two onRequest hooks: on the webhook, which answers tens of thousands of
 * small JSON requests a second under load, that was several percent of the main thread. With
 * static options helmet's headers do not depend on the request, so the webhook route copies this
 * object instead and stays byte-for-byte identical to the other routes.
 */
export function helmetHeaders(options: Readonly<HelmetOptions> = {}): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  const middleware = helmet({ ...options });
  // helmet only ever calls setHeader/removeHeader on the response and never reads the request.
  middleware({} as never, recorder as never, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure;
  return Object.freeze(headers);
}

/**
 * The headers for answers no browser renders: the webhook's, read by Telegram's servers (issue
 * 16). Helmet's defaults are for documents: a CSP with font, style and image sources, cross-origin
 * isolation, DNS prefetching, IE download options. On an API answer only four of them mean
 * anything (OWASP REST Security Cheat Sheet): a CSP that allows nothing and no framing, HSTS,
 * nosniff and X-Frame-Options. Every byte of an answer costs on the send path (about 5 µs of
 * the main thread per response for helmet's 730 bytes, measured), and the webhook answers tens
 * of thousands a second under load. Still helmet's own values, so the two sets cannot drift.
 */
export function apiHelmetHeaders(): Readonly<Record<string, string>> {
  return helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}
