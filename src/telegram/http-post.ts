import type { Dispatcher } from 'undici';

export interface PostRequest {
  origin: string;
  path: string;
  body: Dispatcher.DispatchOptions['body'];
  headers?: Record<string, string>;
  /** undici's own timers: until the response headers, then between body chunks. */
  headersTimeout: number;
  bodyTimeout: number;
  signal?: AbortSignal;
}

export interface PostResponse {
  statusCode: number;
  text: string;
}

/** A Bot API answer is JSON of a few KiB (getUpdates: up to 100 updates); past this it is not one. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * One POST through undici's dispatcher, its body gathered as text. What `dispatcher.request()`
 * does for this one case without its per-call machinery (issue 16: a body stream, an
 * AsyncResource and their promise plumbing per call): the handler keeps the status and the
 * chunks, nothing else. The same keep-alive pool and timeouts; an abort of `signal` cancels the
 * request, also while it waits for a socket.
 */
export function postText(dispatcher: Dispatcher, request: PostRequest): Promise<PostResponse> {
  return new Promise((resolve, reject) => {
    const { signal } = request;
    const chunks: Buffer[] = [];
    let received = 0;
    let statusCode = 0;
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    const settle = (err: unknown, response?: PostResponse) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (response) resolve(response);
      else reject(err);
    };
    function onAbort() {
      controller?.abort(signal!.reason);
      settle(signal!.reason);
    }
    if (signal?.aborted) {
      settle(signal.reason);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const options: Dispatcher.DispatchOptions = {
      origin: request.origin,
      path: request.path,
      method: 'POST',
      body: request.body,
      headers: request.headers,
      headersTimeout: request.headersTimeout,
      bodyTimeout: request.bodyTimeout,
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (settled) c.abort(signal?.reason ?? new Error('request abandoned'));
      },
      onResponseStart(_c, status) {
        statusCode = status;
      },
      onResponseData(c, chunk) {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) {
          const err = new Error(`response body over ${MAX_RESPONSE_BYTES} bytes`);
          c.abort(err);
          settle(err);
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle(undefined, { statusCode, text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_c, err) {
        settle(err);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      settle(err); // a dispatcher that throws instead of calling onResponseError (a composed or custom one)
    }
  });
}
