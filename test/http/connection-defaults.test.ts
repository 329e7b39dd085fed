import t from 'tap';
import { buildMainServer } from '../../src/http/server.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { captureLogger, TEST_SECRET } from '../helpers/logger.js';
import { agentFrom, openProbe, status } from './connection-helpers.js';

/**
 * The contract's own figures, not test ones (about 31 s, so in a file of its own that runs beside
 * the others): idle connections go within 30 s, including straight after the TLS handshake.
 */
t.test('with the default limits idle connections are closed within 30 s', async (t) => {
  const tls = await generateSelfSigned({ host: '127.0.0.1' });
  const app = await buildMainServer({
    logger: captureLogger().logger,
    tls,
    webhook: { path: '/hook', secret: TEST_SECRET, intake: { accept: async () => 'accepted' }, chatIdOf: () => null, isClosing: () => false },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = agentFrom('127.0.0.2', tls.cert);
  t.teardown(async () => {
    await agent.destroy();
    await app.close();
  });

  const afterHandshake = openProbe({ port, tls: true });
  const noHandshake = openProbe({ port });
  const keepAlive = openProbe({ port, tls: true, send: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' });
  await Promise.all([afterHandshake.ready, noHandshake.ready, keepAlive.ready]);
  const post = { method: 'POST' as const, body: '{"update_id":1}', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET } };
  t.equal(await status(`https://127.0.0.1:${port}/hook`, agent, post), 200, 'a POST works meanwhile');
  t.equal(await status(`https://127.0.0.1:${port}/healthz`, agent), 200, 'and /healthz');

  const [tlsIdle, tcpIdle, idleAfterRequest] = await Promise.all([afterHandshake.closed, noHandshake.closed, keepAlive.closed]);
  t.ok(tlsIdle.afterMs < 12_000, `handshake done, then nothing: closed after ${tlsIdle.afterMs} ms (header deadline 10 s)`);
  t.ok(tcpIdle.afterMs < 12_000, `no handshake: closed after ${tcpIdle.afterMs} ms (handshake deadline 10 s)`);
  t.match(idleAfterRequest.received, /^HTTP\/1\.1 200/);
  t.ok(idleAfterRequest.afterMs > 25_000 && idleAfterRequest.afterMs <= 30_500, `idle after a request: closed after ${idleAfterRequest.afterMs} ms (idle 30 s)`);
});
