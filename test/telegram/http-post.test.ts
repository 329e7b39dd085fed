import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Agent } from 'undici';
import { MAX_RESPONSE_BYTES, postText } from '../../src/telegram/http-post.js';
import type { TestContext } from '../helpers/tap.js';

/** A loopback HTTP server answering with `answer`; closed at teardown. */
async function server(t: TestContext, answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> {
  const srv = http.createServer(answer);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

const request = (origin: string, extra: Partial<Parameters<typeof postText>[1]> = {}) => ({
  origin,
  path: '/m',
  body: '{"a":1}',
  headers: { 'content-type': 'application/json' },
  headersTimeout: 5_000,
  bodyTimeout: 5_000,
  ...extra,
});

t.test('posts the body and gathers the answer as text, across chunks', async (t) => {
  const seen: string[] = [];
  const origin = await server(t, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
      res.writeHead(201);
      res.write('{"ok":');
      setTimeout(() => res.end('true}'), 10);
    });
  });
  const agent = new Agent();
  t.teardown(() => agent.close());
  t.same(await postText(agent, request(origin)), { statusCode: 201, text: '{"ok":true}' });
  t.same(seen, ['POST /m application/json {"a":1}']);
});

t.test('an answer past MAX_RESPONSE_BYTES is refused, not buffered', async (t) => {
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  const origin = await server(t, (_req, res) => {
    res.writeHead(200);
    const more = () => {
      while (res.write(chunk));
      res.once('drain', more);
    };
    more();
    res.on('error', () => undefined);
  });
  const agent = new Agent();
  t.teardown(() => agent.close());
  await t.rejects(postText(agent, request(origin)), new RegExp(`over ${MAX_RESPONSE_BYTES} bytes`));
});

t.test('an abort ends the call at once: before it starts, while it waits for a socket, and in flight', async (t) => {
  const origin = await server(t, () => undefined); // never answers
  const agent = new Agent({ connections: 1 });
  t.teardown(() => agent.destroy());
  const gone = new AbortController();
  gone.abort(new Error('before'));
  await t.rejects(postText(agent, request(origin, { signal: gone.signal })), /before/);

  const first = new AbortController();
  const queued = new AbortController();
  const inFlight = postText(agent, request(origin, { signal: first.signal }));
  const waiting = postText(agent, request(origin, { signal: queued.signal })); // behind the first: one connection
  queued.abort(new Error('queued'));
  await t.rejects(waiting, /queued/);
  first.abort(new Error('in flight'));
  await t.rejects(inFlight, /in flight/);
});

t.test('undici timeouts still apply', async (t) => {
  const origin = await server(t, () => undefined);
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  await t.rejects(postText(agent, request(origin, { headersTimeout: 200 })), { code: 'UND_ERR_HEADERS_TIMEOUT' });
});

t.test('a dispatcher that throws instead of calling back rejects the call and leaves no listener on the signal', async (t) => {
  const throwing = { dispatch: () => { throw new Error('dispatcher refused'); } } as unknown as Parameters<typeof postText>[0];
  const controller = new AbortController();
  await t.rejects(postText(throwing, request('http://127.0.0.1:9', { signal: controller.signal })), /dispatcher refused/);
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the long-lived signal keeps no listener');
});
