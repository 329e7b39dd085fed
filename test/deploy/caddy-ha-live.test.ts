import t from 'tap';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { buildAdminServer } from '../../src/http/admin-server.js';
import { buildMainServer } from '../../src/http/server.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ROOT } from '../helpers/gateway-process.js';
import { captureLogger, TEST_SECRET } from '../helpers/logger.js';
import { MemoryIntake } from '../helpers/memory-intake.js';
import { freePort, startDaemon, waitUntil, which } from '../helpers/system.js';

/**
 * The shipped deploy/Caddyfile.ha, run by the real caddy on loopback in front of two replicas
 * (the real main and admin servers, sharing one intake as two gateways share one database).
 * Caddy's health check uses one admin port for every upstream, as in compose, so the replicas
 * listen on two loopback addresses (127.0.0.2, 127.0.0.3) with the same ports. The site is
 * plain HTTP (SKILLGATE_DOMAIN=http://...): certificates are caddy-live.test.ts's subject.
 */

const WEBHOOK_PATH = '/telegram/webhook';
const ADDRESSES = ['127.0.0.2', '127.0.0.3'] as const;
const caddyBin = which('caddy');

/** A port free on every one of `hosts` (the kernel picks it on the first, the others are checked). */
async function portFreeOn(hosts: readonly string[]): Promise<number> {
  for (;;) {
    const port = await freePort(hosts[0]);
    const free = await Promise.all(
      hosts.slice(1).map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const server = net.createServer();
            server.once('error', () => resolve(false));
            server.listen(port, host, () => server.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
}

async function replica(host: string, ports: { main: number; admin: number }, intake: MemoryIntake) {
  const log = captureLogger([TEST_SECRET]);
  let ready = true;
  const main: FastifyInstance = await buildMainServer({
    logger: log.logger,
    trustProxy: ['127.0.0.1'],
    webhook: { path: WEBHOOK_PATH, secret: TEST_SECRET, intake, chatIdOf: () => null, isClosing: () => false },
  });
  const requests: number[] = [];
  main.addHook('onRequest', async () => {
    requests.push(Date.now());
  });
  await main.listen({ host, port: ports.main });
  const admin = await buildAdminServer({
    logger: log.logger,
    metrics: new Metrics(),
    readiness: async () => ({ ready, reasons: ready ? [] : ['database unavailable'] }),
  });
  await admin.listen({ host, port: ports.admin });
  return {
    requests,
    setReady(value: boolean) {
      ready = value;
    },
    /** Both listeners gone at once, as after kill -9. */
    async kill() {
      await Promise.all([main.close(), admin.close()]);
    },
  };
}

async function runSuite(caddy: string) {
  const shared = new MemoryIntake();
  const ports = { main: await portFreeOn(ADDRESSES), admin: await portFreeOn(ADDRESSES) };
  const [a, b] = await Promise.all(ADDRESSES.map((host) => replica(host, ports, shared)));
  t.teardown(() => Promise.all([a!.kill(), b!.kill()]));
  const port = await freePort();
  const dir = t.testdir({ storage: {}, home: {} });
  writeFileSync(path.join(dir, 'Caddyfile'), `{\n\tadmin off\n\tskip_install_trust\n\tstorage file_system ${path.join(dir, 'storage')}\n}\nimport ${path.join(ROOT, 'deploy/Caddyfile.ha')}\n`);
  const proxy = startDaemon(caddy, ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(dir, 'home'),
      XDG_CONFIG_HOME: path.join(dir, 'home'),
      XDG_DATA_HOME: path.join(dir, 'home'),
      SKILLGATE_DOMAIN: `http://127.0.0.1:${port}`,
      SKILLGATE_UPSTREAMS: ADDRESSES.map((host) => `${host}:${ports.main}`).join(' '),
      SKILLGATE_ADMIN_PORT: String(ports.admin),
      WEBHOOK_PATH,
    },
  });
  t.teardown(() => proxy.stop());
  await proxy.waitForPort(port);

  let nextId = 1;
  /** Posts a new update, or `updateId` again. */
  const post = async (updateId = nextId++) => {
    const res = await request(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET },
      body: JSON.stringify({ update_id: updateId }),
    });
    await res.body.text();
    return res.statusCode;
  };
  /** Sends `n` updates; how many each replica got, and the statuses. */
  const burst = async (n: number) => {
    const [beforeA, beforeB] = [a!.requests.length, b!.requests.length];
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push(await post());
    return { statuses, a: a!.requests.length - beforeA, b: b!.requests.length - beforeB };
  };

  t.test('Caddyfile.ha spreads updates over both replicas', async (t) => {
    // Caddy's first active health check runs at start; until it has, give it a moment (bounded).
    t.ok(await waitUntil(async () => (await post()) === 200, 10_000), 'Caddy forwards');
    const sent = await burst(8);
    t.same(sent.statuses, Array(8).fill(200));
    t.ok(sent.a > 0 && sent.b > 0, `a ${sent.a}, b ${sent.b}`);
  });

  t.test('a replica whose /readyz is 503 is taken out of the rotation by the active check', async (t) => {
    a!.setReady(false);
    // The check runs every 2 s: wait until a burst of 4 goes to b only (bounded at 10 s).
    const moved = await waitUntil(async () => (await burst(4)).a === 0, 10_000, 500);
    t.ok(moved, 'replica a gets no updates while not ready');
    const sent = await burst(6);
    t.same(sent.statuses, Array(6).fill(200), 'and every update is still answered');
    t.equal(sent.a, 0);
    a!.setReady(true);
    t.ok(await waitUntil(async () => (await burst(4)).a > 0, 10_000, 500), 'back in the rotation once ready again');
  });

  t.test('a replica killed with both listeners gone: every update is accepted by the other, at worst after a redelivery', async (t) => {
    await a!.kill();
    const killedAt = Date.now();
    const statuses = new Set<number>();
    const delivered: number[] = [];
    let lastFailure = 0;
    // Telegram's behaviour: send each update until it gets a 200 (bounded here at 10 s in all).
    while (delivered.length < 12 && Date.now() - killedAt < 10_000) {
      const id = nextId++;
      for (let status = await post(id); ; status = await post(id)) {
        statuses.add(status);
        if (status === 200) break;
        lastFailure = Date.now();
        if (Date.now() - killedAt > 10_000) break;
      }
      delivered.push(id);
    }
    t.equal(delivered.length, 12, 'all sent within 10 s');
    t.ok([...statuses].every((s) => s === 200 || s === 502), `only 200 and 502 (lost with the dead replica): ${[...statuses].join(' ')}`);
    t.ok(lastFailure === 0 || lastFailure - killedAt < 5_000, 'failures only until the health check (every 2 s) took it out');
    t.ok(delivered.every((id) => shared.has(id)), 'every update stored');
    t.equal(shared.size, nextId - 1, 'each once');
  });
}

if (!caddyBin) {
  t.skip('caddy is not installed (apt-get install -y caddy)', () => {});
} else {
  await runSuite(caddyBin);
}
