import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { buildAdminServer } from '../../src/http/admin-server.js';
import { defaultGlobalCap, peerKey, type ConnectionLimits } from '../../src/http/connection-guard.js';
import { buildMainServer } from '../../src/http/server.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { Metrics } from '../../src/observability/metrics.js';
import { captureLogger, TEST_SECRET } from '../helpers/logger.js';
import { agentFrom, closedWithin, destroyAll, openMany, openProbe, status } from './connection-helpers.js';

const PATH = '/telegram/webhook';
const tls = await generateSelfSigned({ host: '127.0.0.1' });

/** Short figures so the suite stays fast; connection-defaults.test.ts runs the real ones. */
const FAST: Partial<ConnectionLimits> = { idleMs: 1_500, headersMs: 700, requestMs: 1_800, handshakeMs: 700, checkIntervalMs: 100 };
/** Long enough that nothing times out while a cap test holds its connections open. */
const PATIENT: Partial<ConnectionLimits> = { idleMs: 30_000, headersMs: 30_000, requestMs: 30_000, handshakeMs: 30_000 };

async function mainServer(t: TestContext, connections: Partial<ConnectionLimits>, useTls = true) {
  const log = captureLogger([TEST_SECRET]);
  const app = await buildMainServer({
    logger: log.logger,
    tls: useTls ? tls : undefined,
    connections,
    webhook: { path: PATH, secret: TEST_SECRET, intake: { accept: async () => 'accepted' }, chatIdOf: () => 7, isClosing: () => false },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agents = new Map<string, ReturnType<typeof agentFrom>>();
  /** An agent per client address, so each address keeps its own keep-alive connection. */
  const from = (address: string) => {
    if (!agents.has(address)) agents.set(address, agentFrom(address, tls.cert));
    return agents.get(address)!;
  };
  t.teardown(async () => {
    await Promise.all([...agents.values()].map((a) => a.destroy()));
    await app.close();
  });
  const base = `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const healthz = (address = '127.0.0.1') => status(`${base}/healthz`, from(address));
  const post = (address = '127.0.0.1') =>
    status(`${base}${PATH}`, from(address), {
      method: 'POST',
      body: JSON.stringify({ update_id: 1 }),
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET },
    });
  return { port, log, healthz, post };
}

t.test('idle connections are closed: after the TLS handshake, before it, and on plain TCP', async (t) => {
  const s = await mainServer(t, FAST);
  const afterHandshake = openProbe({ port: s.port, tls: true });
  const noHandshake = openProbe({ port: s.port });
  await Promise.all([afterHandshake.ready, noHandshake.ready]);
  t.equal(await s.post(), 200, 'a POST works while the idle ones are open');
  t.equal(await s.healthz(), 200, '/healthz works too');
  const [tlsIdle, tcpIdle] = await Promise.all([afterHandshake.closed, noHandshake.closed]);
  t.ok(tlsIdle.afterMs < 1_500, `handshake done, nothing sent: closed after ${tlsIdle.afterMs} ms (headers deadline 700)`);
  t.ok(tcpIdle.afterMs < 1_500, `no handshake: closed after ${tcpIdle.afterMs} ms (handshake deadline 700)`);

  const plain = await mainServer(t, FAST, false);
  const idle = openProbe({ port: plain.port });
  t.equal(await plain.post(), 200);
  const closed = await idle.closed;
  t.ok(closed.afterMs < 1_500, `TLS=off, nothing sent: closed after ${closed.afterMs} ms`);
});

t.test('a keep-alive connection with no request in flight is closed at the idle timeout', async (t) => {
  const s = await mainServer(t, FAST);
  const probe = openProbe({ port: s.port, tls: true, send: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' });
  const { afterMs, received } = await probe.closed;
  t.match(received, /^HTTP\/1\.1 200/, 'the request was answered');
  t.ok(afterMs >= 1_200 && afterMs < 2_500, `closed ${afterMs} ms after opening (idle 1,500)`);
});

t.test('headers sent slowly are cut at the header deadline, a body sent slowly at the request deadline', async (t) => {
  const s = await mainServer(t, FAST);
  const slowHeaders = openProbe({
    port: s.port,
    tls: true,
    send: `POST ${PATH} HTTP/1.1\r\nHost: x\r\n`,
    drip: { text: 'X-Pad: 1\r\n', everyMs: 100, maxCount: 100 },
  });
  const slowBody = openProbe({
    port: s.port,
    tls: true,
    send: `POST ${PATH} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n` + `x-telegram-bot-api-secret-token: ${TEST_SECRET}\r\ncontent-length: 1000\r\n\r\n{"update_id":1,"pad":"`,
    drip: { text: 'x', everyMs: 100, maxCount: 200 },
  });
  const headers = await slowHeaders.closed;
  t.ok(headers.afterMs < 1_500, `slow headers cut after ${headers.afterMs} ms (header deadline 700)`);
  t.match(headers.received, /^HTTP\/1\.1 408/, 'with 408 Request Timeout');
  const body = await slowBody.closed;
  t.ok(body.afterMs >= 1_500 && body.afterMs < 3_000, `slow body cut after ${body.afterMs} ms (request deadline 1,800)`);
  t.equal(await s.healthz(), 200, 'the server is fine');
});

t.test('256 open connections from one address: the 257th is refused, other addresses still served', async (t) => {
  const s = await mainServer(t, PATIENT);
  const held = await openMany(256, { port: s.port });
  t.teardown(() => destroyAll(held));
  const extra = openProbe({ port: s.port });
  t.ok(await closedWithin(extra, 2_000), 'the 257th connection from 127.0.0.1 is closed at once');
  t.notOk((await extra.closed).received, 'without an answer');
  t.notOk(await closedWithin(held[0]!, 200), 'the 256 already open stay open');
  t.equal(await s.healthz('127.0.0.2'), 200, '/healthz from 127.0.0.2 works');
  t.equal(await s.post('127.0.0.2'), 200, 'a POST from 127.0.0.2 works');
  t.match(s.log.text(), /refused a new connection \(already 256 open connections from 127\.0\.0\.1\)/);

  held.pop()!.socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = openProbe({ port: s.port });
  t.notOk(await closedWithin(again, 500), 'once one closes, 127.0.0.1 may connect again');
  again.socket.destroy();
});

t.test('past the global cap new connections are refused; open ones keep working', async (t) => {
  const s = await mainServer(t, { ...PATIENT, global: 12 });
  t.equal(await s.healthz('127.0.0.5'), 200, 'a keep-alive client connected before the cap is reached');
  const held = [...(await openMany(6, { port: s.port, localAddress: '127.0.0.3' })), ...(await openMany(5, { port: s.port, localAddress: '127.0.0.4' }))];
  t.teardown(() => destroyAll(held));
  const refused = openProbe({ port: s.port, localAddress: '127.0.0.6' });
  t.ok(await closedWithin(refused, 2_000), 'the 13th connection, from a fresh address, is refused');
  t.equal(await s.healthz('127.0.0.5'), 200, '/healthz over the open keep-alive connection still works');
  t.equal(await s.post('127.0.0.5'), 200, 'and so does a POST');
  t.match(s.log.text(), /refused a new connection \(already 12 open connections in all\)/);
});

t.test('the global cap is 4,000 at most and leaves descriptors for everything else', async (t) => {
  t.equal(defaultGlobalCap(1_048_576), 4_000);
  t.equal(defaultGlobalCap(4_096), 3_328, 'at 4,096 descriptors: 512 headroom and 256 for the admin listener');
  t.equal(defaultGlobalCap(1_024), 256);
  t.equal(defaultGlobalCap(100), 64, 'never below 64');
  t.ok(defaultGlobalCap() >= 64 && defaultGlobalCap() <= 4_000, 'from this process limit');
});

t.test('the admin listener: idle connections closed, per-address and global caps, /healthz still served', async (t) => {
  const log = captureLogger();
  const build = async (connections: Partial<ConnectionLimits>) => {
    const app = await buildAdminServer({ logger: log.logger, metrics: new Metrics(), readiness: async () => ({ ready: true, reasons: [] }), connections });
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    return (app.server.address() as { port: number }).port;
  };
  const agent = agentFrom('127.0.0.2');
  t.teardown(() => agent.destroy());

  const fast = await build(FAST);
  const idle = openProbe({ port: fast });
  t.equal(await status(`http://127.0.0.1:${fast}/healthz`, agent), 200);
  t.ok((await idle.closed).afterMs < 1_500, 'an idle admin connection is closed');
  const slow = openProbe({ port: fast, send: 'GET /metrics HTTP/1.1\r\n', drip: { text: 'X-Pad: 1\r\n', everyMs: 100, maxCount: 100 } });
  t.ok((await slow.closed).afterMs < 1_500, 'slow headers are cut');

  const capped = await build({ ...PATIENT, perAddress: 8, global: 10 });
  const held = await openMany(8, { port: capped });
  t.teardown(() => destroyAll(held));
  t.ok(await closedWithin(openProbe({ port: capped }), 2_000), 'the 9th from one address is refused');
  t.equal(await status(`http://127.0.0.1:${capped}/healthz`, agent), 200, '/healthz from another address works');
  const more = await openMany(1, { port: capped, localAddress: '127.0.0.3' });
  t.teardown(() => destroyAll(more));
  t.ok(await closedWithin(openProbe({ port: capped, localAddress: '127.0.0.4' }), 2_000), 'past the global cap, refused');
  t.equal(await status(`http://127.0.0.1:${capped}/metrics`, agent), 200, 'the open keep-alive connection still works');
});

t.test('connections are counted per IPv4 address and per IPv6 /64', async (t) => {
  t.equal(peerKey('127.0.0.1'), '127.0.0.1');
  t.equal(peerKey('::ffff:203.0.113.7'), '203.0.113.7', 'an IPv4 client of a dual-stack listener');
  t.equal(peerKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(peerKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'same /64, same count');
  t.equal(peerKey('2001:0db8::1'), '2001:db8:0:0::/64');
  t.equal(peerKey('::1'), '0:0:0:0::/64');
  t.equal(peerKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(peerKey(undefined), undefined);
});
