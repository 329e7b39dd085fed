import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { buildMainServer } from '../../src/http/server.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { captureLogger, TEST_SECRET } from '../helpers/logger.js';
import { MemoryIntake } from '../helpers/memory-intake.js';
import { nginxPrefix, runNginx, startShippedHaNginx } from '../helpers/nginx.js';
import { freePort, loopbackIpv6Works, which } from '../helpers/system.js';

/**
 * The production topology on loopback: a real nginx (TLS=off behind it, as docker-compose and
 * deploy/nginx run it) in front of the real main server, with the proxy settings that ship in
 * deploy/nginx/skillgate-proxy.conf. Checks that only WEBHOOK_PATH is forwarded and that the
 * gateway sees the client's address, not the proxy's, only when TRUST_PROXY names the proxy.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEBHOOK_PATH = '/telegram/webhook';
const nginxBin = which('nginx');
const ipv6 = await loopbackIpv6Works();

async function runSuite(nginx: string) {
  const trusted = await gateway(['127.0.0.1']);
  const untrusted = await gateway(undefined);
  const proxy = await startNginx(nginx, { trusted: trusted.port, untrusted: untrusted.port });
  t.teardown(async () => {
    await proxy.stop();
    await trusted.app.close();
    await untrusted.app.close();
  });

  const post = (port: number, host: string, headers: Record<string, string>, urlPath = WEBHOOK_PATH, body = '{"update_id":1}') =>
    call(`http://${host}:${port}${urlPath}`, 'POST', { 'content-type': 'application/json', ...headers }, body);

  t.test('nginx forwards the webhook path and the gateway stores the update', async (t) => {
    const res = await post(proxy.trustedPort, '127.0.0.1', { 'x-telegram-bot-api-secret-token': TEST_SECRET }, WEBHOOK_PATH, '{"update_id":7}');
    t.equal(res.status, 200);
    t.ok(trusted.intake.has(7));
  });

  t.test('the gateway sees the client address forwarded by a trusted proxy, not the proxy address', { skip: !ipv6 && 'no IPv6 loopback' }, async (t) => {
    // The client connects to nginx over [::1]; nginx connects to the gateway from 127.0.0.1.
    const res = await post(proxy.trustedPort, '[::1]', { 'x-telegram-bot-api-secret-token': 'wrong', 'x-forwarded-for': '203.0.113.66' });
    t.equal(res.status, 401);
    const line = trusted.log.lines.map((l) => JSON.parse(l) as { ip?: string; msg: string }).find((l) => /wrong secret token/.test(l.msg));
    t.equal(line?.ip, '::1', 'the address nginx saw, not 127.0.0.1');
    t.not(line?.ip, '203.0.113.66', 'a client-supplied X-Forwarded-For is overwritten by nginx');
  });

  t.test('without TRUST_PROXY the forwarded header is ignored and the proxy address is used', { skip: !ipv6 && 'no IPv6 loopback' }, async (t) => {
    const res = await post(proxy.untrustedPort, '[::1]', { 'x-telegram-bot-api-secret-token': 'wrong' });
    t.equal(res.status, 401);
    const line = untrusted.log.lines.map((l) => JSON.parse(l) as { ip?: string; msg: string }).find((l) => /wrong secret token/.test(l.msg));
    t.equal(line?.ip, '127.0.0.1');
  });

  t.test('other paths are not proxied: nginx answers 404 and the gateway never sees them', async (t) => {
    const before = trusted.requests.length;
    for (const p of ['/healthz', '/metrics', '/readyz', `${WEBHOOK_PATH}/extra`, `${WEBHOOK_PATH}x`, '/']) {
      const res = await call(`http://127.0.0.1:${proxy.trustedPort}${p}`, 'GET');
      t.equal(res.status, 404, `${p} answered by nginx`);
      t.notMatch(res.text, /"status":"ok"/);
    }
    t.equal(trusted.requests.length, before, 'no request reached the gateway');
    const direct = await call(`http://127.0.0.1:${trusted.port}/healthz`, 'GET');
    t.equal(direct.status, 200, 'while the gateway itself does serve /healthz');
  });

  t.test('only POST is forwarded on the webhook path', async (t) => {
    const res = await call(`http://127.0.0.1:${proxy.trustedPort}${WEBHOOK_PATH}`, 'GET');
    t.equal(res.status, 403);
  });

  for (const site of ['skillgate.conf', 'skillgate-ha.conf']) {
    t.test(`the shipped deploy/nginx/${site} passes nginx -t`, (t) => checkShippedSiteConfig(t, nginx, site));
  }

  t.test('an oversized body is refused with 413 by nginx, before it reaches the gateway', async (t) => {
    const big = JSON.stringify({ update_id: 9, pad: 'x'.repeat(1024 * 1024 + 10) });
    const res = await post(proxy.trustedPort, '127.0.0.1', { 'x-telegram-bot-api-secret-token': TEST_SECRET }, WEBHOOK_PATH, big);
    t.equal(res.status, 413);
  });
}

/** `nginx -t` on a shipped site file, with a generated certificate in place of Let's Encrypt's. */
async function checkShippedSiteConfig(t: TestContext, bin: string, siteFile: string) {
  const prefix = t.testdir();
  mkdirSync(path.join(prefix, 'snippets'));
  mkdirSync(path.join(prefix, 'logs'));
  const { cert, key } = await generateSelfSigned({ host: 'bot.example.com' });
  writeFileSync(path.join(prefix, 'cert.pem'), cert);
  writeFileSync(path.join(prefix, 'key.pem'), key);
  writeFileSync(path.join(prefix, 'snippets/skillgate-proxy.conf'), readFileSync(path.join(root, 'deploy/nginx/skillgate-proxy.conf')));
  const site = readFileSync(path.join(root, 'deploy/nginx', siteFile), 'utf8')
    .replace(/\/etc\/letsencrypt\/live\/bot\.example\.com\/fullchain\.pem/, path.join(prefix, 'cert.pem'))
    .replace(/\/etc\/letsencrypt\/live\/bot\.example\.com\/privkey\.pem/, path.join(prefix, 'key.pem'))
    .replace(/\/var\/log\/nginx\//g, `${prefix}/logs/`);
  writeFileSync(path.join(prefix, 'site.conf'), site);
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    `pid ${prefix}/nginx.pid; error_log stderr; events {} http { access_log off; include site.conf; }`,
  );
  const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(bin, ['-t', '-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, out }));
  });
  t.equal(result.code, 0, result.out);
  t.match(result.out, /syntax is ok/);
}

async function gateway(trustProxy: string[] | undefined, intake = new MemoryIntake()) {
  const log = captureLogger([TEST_SECRET]);
  let closing = false;
  const app: FastifyInstance = await buildMainServer({
    logger: log.logger,
    trustProxy,
    webhook: { path: WEBHOOK_PATH, secret: TEST_SECRET, intake, chatIdOf: () => null, isClosing: () => closing },
  });
  const requests: string[] = [];
  app.addHook('onRequest', async (req) => {
    requests.push(req.url);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const drain = () => {
    closing = true;
  };
  return { app, log, intake, requests, drain, port: (app.server.address() as net.AddressInfo).port };
}

async function startNginx(bin: string, upstreams: { trusted: number; untrusted: number }) {
  const prefix = nginxPrefix(t.testdir());
  const [trustedPort, untrustedPort] = [await freePort(), await freePort()];
  const listen = (port: number) => `listen 127.0.0.1:${port};${ipv6 ? ` listen [::1]:${port};` : ''}`;
  // The same location block as deploy/nginx/skillgate.conf, minus TLS.
  const server = (port: number, upstream: number) => `
    server {
      ${listen(port)}
      location = ${WEBHOOK_PATH} {
        limit_except POST { deny all; }
        proxy_pass http://127.0.0.1:${upstream};
        include snippets/skillgate-proxy.conf;
      }
      location / { return 404; }
    }`;
  const nginx = await runNginx(bin, prefix, server(trustedPort, upstreams.trusted) + server(untrustedPort, upstreams.untrusted), trustedPort);
  return { trustedPort, untrustedPort, stop: nginx.stop };
}

async function runHaSuite(nginx: string) {
  // Both replicas share one intake, as two gateways share one PostgreSQL database.
  const shared = new MemoryIntake();
  const a = await gateway(['127.0.0.1'], shared);
  const b = await gateway(['127.0.0.1'], shared);
  const proxy = await startShippedHaNginx(nginx, t.testdir(), [a.port, b.port]);
  t.teardown(async () => {
    await proxy.stop();
    await a.app.close();
    await b.app.close();
  });
  let nextId = 1000;
  const postUpdate = (updateId = nextId++) =>
    call(`http://127.0.0.1:${proxy.port}${WEBHOOK_PATH}`, 'POST', { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET }, JSON.stringify({ update_id: updateId }));

  t.test('deploy/nginx/skillgate-ha.conf spreads updates over both replicas', async (t) => {
    for (let i = 0; i < 6; i++) t.equal((await postUpdate()).status, 200);
    t.ok(a.requests.length > 0 && b.requests.length > 0, `a ${a.requests.length}, b ${b.requests.length}`);
  });

  t.test('a draining replica (503) hands the update to the other one, and the sender sees 200', async (t) => {
    a.drain();
    const triedA = a.requests.length;
    const ids = [2001, 2002, 2003, 2004];
    for (const id of ids) t.equal((await postUpdate(id)).status, 200, `update ${id}`);
    t.ok(a.requests.length > triedA, 'the draining replica was tried and answered 503');
    t.ok(ids.every((id) => shared.has(id)), 'all stored');
  });

  t.test('with one replica gone every update is still accepted by the other', async (t) => {
    await a.app.close();
    const before = b.requests.length;
    const ids = [3001, 3002, 3003, 3004];
    for (const id of ids) t.equal((await postUpdate(id)).status, 200, `update ${id}`);
    t.ok(ids.every((id) => shared.has(id)), 'all stored');
    t.equal(b.requests.length - before, ids.length, 'all through the live replica');
  });

  t.test('an update sent again (a retry after a lost answer) is one update', async (t) => {
    const stored = shared.size;
    t.equal((await postUpdate(3001)).status, 200, 'a duplicate is acknowledged, so Telegram stops sending it');
    t.equal(shared.answers.at(-1), 'duplicate');
    t.equal(shared.size, stored, 'no second row');
  });
}

async function call(url: string, method: 'GET' | 'POST', headers: Record<string, string> = {}, body?: string) {
  const res = await request(url, { method, headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

// Last, so the classes and helpers above are initialised before the suite runs.
if (!nginxBin) {
  t.skip('nginx is not installed (apt-get install -y --no-install-recommends nginx-light)', () => {});
} else {
  await runSuite(nginxBin);
  await runHaSuite(nginxBin);
}
