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
