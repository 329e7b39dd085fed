import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { loadConfig } from '../../src/config/index.js';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { createRedactor } from '../../src/observability/redact.js';
import { PgInboxStore } from '../../src/inbox/pg/pg-store.js';
import { TelegramApi } from '../../src/telegram/api-client.js';
import {
  ALLOWED_UPDATES,
  describeWebhookInfo,
  ensureWebhook,
  isSelfSigned,
  MARKER_META_KEY,
  sharedMarker,
  type MarkerStore,
  webhookUrlProblems,
} from '../../src/telegram/webhook-registration.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { captureLogger, TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';
import { freshDatabase } from '../helpers/postgres.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const PUBLIC_URL = 'https://bot.example.com:8443';
const selfSigned = await generateSelfSigned({ host: 'bot.example.com' });

async function fakeTelegram(t: TestContext): Promise<FakeTelegram> {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  t.teardown(() => fake.close());
  return fake;
}

function baseEnv(fake: FakeTelegram, dir: string): Record<string, string> {
  writeFileSync(path.join(dir, 'cert.pem'), selfSigned.cert);
  return {
    TELEGRAM_BOT_TOKEN: TEST_TOKEN,
    TELEGRAM_API_BASE: fake.apiBase,
    TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
    PUBLIC_URL,
    TLS_CERT_FILE: 'cert.pem',
    DATA_DIR: 'data',
  };
}

function runWebhook(args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(tsx, [path.join(root, 'scripts/webhook.ts'), ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

t.test('webhook:set registers PUBLIC_URL + WEBHOOK_PATH with the secret, allowed_updates and max_connections, then prints getWebhookInfo', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const run = await runWebhook(['set'], { ...baseEnv(fake, dir), TELEGRAM_MAX_CONNECTIONS: '12' }, dir);
  t.equal(run.code, 0, run.stderr);
  t.same(fake.webhook && { ...fake.webhook, certificate: undefined }, {
    url: `${PUBLIC_URL}/telegram/webhook`,
    secret_token: TEST_SECRET,
    allowed_updates: [...ALLOWED_UPDATES],
    max_connections: 12,
    ip_address: undefined,
    certificate: undefined,
  });
  t.match(run.stdout, /Webhook set: https:\/\/bot\.example\.com:8443\/telegram\/webhook/);
  for (const field of ['url: https://bot.example.com:8443/telegram/webhook', 'pending_update_count: 0', 'last_error_date:', 'last_error_message:', 'max_connections: 12', 'ip_address:']) {
    t.match(run.stdout, field);
  }
  t.notMatch(run.stdout + run.stderr, TEST_SECRET, 'the secret is not printed');
  t.ok(existsSync(path.join(dir, 'data/webhook-registration.json')), 'the marker is written so the gateway does not re-register');
});

t.test('webhook:set uploads a self-signed certificate as a multipart file', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const run = await runWebhook(['set'], baseEnv(fake, dir), dir);
  t.equal(run.code, 0, run.stderr);
  t.equal(fake.webhook?.certificate, selfSigned.cert, 'the PEM arrived as the certificate file');
  t.match(run.stdout, /certificate: uploaded \(self-signed\)/);
  t.match(run.stdout, /has_custom_certificate: true/);
});

t.test('webhook:set does not upload a certificate signed by a CA, nor one when TLS is off', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const ca = await generate([{ name: 'commonName', value: 'Test CA' }], {
    algorithm: 'sha256',
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }],
  });
  const leaf = await generate([{ name: 'commonName', value: 'bot.example.com' }], { algorithm: 'sha256', ca: { key: ca.private, cert: ca.cert } });
  t.notOk(isSelfSigned(leaf.cert), 'a CA-signed leaf is not self-signed');
  t.ok(isSelfSigned(selfSigned.cert));
  const env = baseEnv(fake, dir);
  writeFileSync(path.join(dir, 'cert.pem'), leaf.cert);
  t.equal((await runWebhook(['set'], env, dir)).code, 0);
  t.equal(fake.webhook?.certificate, undefined);
  writeFileSync(path.join(dir, 'cert.pem'), selfSigned.cert);
  t.equal((await runWebhook(['set'], { ...env, TLS: 'off' }, dir)).code, 0);
  t.equal(fake.webhook?.certificate, undefined, 'behind a proxy the proxy has the certificate');
});

t.test('webhook:set passes --drop-pending and --ip-address', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const run = await runWebhook(['set', '--drop-pending', '--ip-address', '203.0.113.7'], baseEnv(fake, dir), dir);
  t.equal(run.code, 0, run.stderr);
  const params = fake.callsOf('setWebhook')[0]!.params;
  t.equal(String(params.drop_pending_updates), 'true');
  t.equal(params.ip_address, '203.0.113.7');
  t.match(run.stdout, /ip_address: 203\.0\.113\.7/);
});

t.test('webhook:set refuses a PUBLIC_URL Telegram would reject, with the reason, and calls nothing', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const notHttps = await runWebhook(['set'], { ...baseEnv(fake, dir), PUBLIC_URL: 'http://bot.example.com' }, dir);
  t.equal(notHttps.code, 78);
  t.match(notHttps.stderr, /PUBLIC_URL: must start with https:\/\//);
  const wrongPort = await runWebhook(['set'], { ...baseEnv(fake, dir), PUBLIC_URL: 'https://bot.example.com:9000' }, dir);
  t.equal(wrongPort.code, 78);
  t.match(wrongPort.stderr, /PUBLIC_URL: port must be one of 443, 80, 88, 8443/);
  const unset = await runWebhook(['set'], { ...baseEnv(fake, dir), PUBLIC_URL: '' }, dir);
  t.equal(unset.code, 78);
  t.match(unset.stderr, /PUBLIC_URL: is required for webhook:set/);
  t.equal(fake.calls.length, 0);
});

t.test('webhookUrlProblems names every reason Telegram would refuse a URL', async (t) => {
  t.same(webhookUrlProblems('https://bot.example.com/telegram/webhook'), []);
  t.same(webhookUrlProblems('https://bot.example.com:88/x'), []);
  t.same(webhookUrlProblems('http://bot.example.com/x').length, 1);
  t.match(webhookUrlProblems('http://bot.example.com/x'), [/must start with https/]);
  t.match(webhookUrlProblems('https://bot.example.com:8080/x'), [/port 8080 is not one Telegram delivers to/]);
  t.match(webhookUrlProblems('https://u:p@bot.example.com/x'), [/user name or password/]);
  t.match(webhookUrlProblems('nonsense'), [/not a URL/]);
});

t.test('webhook:set reports Telegram refusing, exits 1 and never prints the token', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  fake.failNext('setWebhook', { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: bad webhook: Failed to resolve host' } });
  const run = await runWebhook(['set'], baseEnv(fake, dir), dir);
  t.equal(run.code, 1);
  t.match(run.stderr, /Failed to resolve host/);
  t.notMatch(run.stdout + run.stderr, TEST_TOKEN.split(':')[1]!);
});

t.test('webhook:info prints the registration; webhook:delete removes it and the marker', async (t) => {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  const env = baseEnv(fake, dir);
  await runWebhook(['set'], env, dir);
  const info = await runWebhook(['info'], env, dir);
  t.equal(info.code, 0);
  t.match(info.stdout, /url: https:\/\/bot\.example\.com:8443\/telegram\/webhook/);
  t.equal(fake.setWebhookCount, 1, 'info changes nothing');
  const del = await runWebhook(['delete', '--drop-pending'], env, dir);
  t.equal(del.code, 0, del.stderr);
  t.equal(fake.webhook, undefined);
  t.equal(String(fake.callsOf('deleteWebhook')[0]!.params.drop_pending_updates), 'true');
  t.match(del.stdout, /url: \(none: no webhook set\)/);
  t.notOk(existsSync(path.join(dir, 'data/webhook-registration.json')));
});

t.test('webhook CLI: a missing token exits 78; an unknown command or flag prints usage and exits 64', async (t) => {
  const dir = t.testdir();
  const noToken = await runWebhook(['info'], {}, dir);
  t.equal(noToken.code, 78);
  t.match(noToken.stderr, /TELEGRAM_BOT_TOKEN: is required/);
  t.equal((await runWebhook(['frobnicate'], {}, dir)).code, 64);
  const badFlag = await runWebhook(['set', '--bogus'], {}, dir);
  t.equal(badFlag.code, 64);
  t.match(badFlag.stderr, /Usage: npm run webhook:set/);
});

t.test('describeWebhookInfo renders the last error date as ISO time', async (t) => {
  const lines = describeWebhookInfo({
    url: 'https://x/y',
    has_custom_certificate: false,
    pending_update_count: 3,
    last_error_date: 1_700_000_000,
    last_error_message: 'Connection timed out',
  });
  t.ok(lines.includes('last_error_date: 2023-11-14T22:13:20.000Z'));
  t.ok(lines.includes('last_error_message: Connection timed out'));
});

/* ensureWebhook: the gateway's start-up registration */

async function ensureSetup(t: TestContext) {
  const fake = await fakeTelegram(t);
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'cert.pem'), selfSigned.cert);
  const log = captureLogger([TEST_TOKEN, TEST_SECRET]);
  const api = new TelegramApi({ token: TEST_TOKEN, apiBase: fake.apiBase, logger: log.logger, redact: createRedactor([TEST_TOKEN]), maxAttempts: 1 });
  t.teardown(() => api.close());
  const config = (extra: Record<string, string> = {}) =>
    loadConfig(
      {
        TELEGRAM_BOT_TOKEN: TEST_TOKEN,
        TELEGRAM_ALLOWED_USER_IDS: '42',
        TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
        TELEGRAM_API_BASE: fake.apiBase,
        PUBLIC_URL,
        TLS_CERT_FILE: 'cert.pem',
        DATA_DIR: 'data',
        ...extra,
      },
      dir,
    );
  const ensure = (extra: Record<string, string> = {}, marker?: MarkerStore) => ensureWebhook({ api, config: config(extra), logger: log.logger, marker });
  return { fake, dir, ensure, log };
}

t.test('ensureWebhook registers once and does not re-set an identical webhook on the next start', async (t) => {
  const { fake, ensure, log } = await ensureSetup(t);
  const first = await ensure();
  t.equal(first.changed, true);
  t.match(first.reasons, ['no webhook registered']);
  t.equal(fake.webhook?.certificate, selfSigned.cert, 'the self-signed certificate is uploaded');
  const second = await ensure();
  t.same(second, { changed: false, reasons: [] });
  t.equal(fake.setWebhookCount, 1, 'no setWebhook on restart');
  t.notMatch(log.text(), TEST_SECRET);
});

t.test('with several replicas the marker is shared through the store: a second replica does not register again', async (t) => {
  const db = await freshDatabase(t);
  if (db.skip !== undefined) return void t.skip(db.skip, () => {});
  const { fake, dir, ensure } = await ensureSetup(t);
  const open = async (name: string) => {
    const store = await PgInboxStore.open({ url: db.url, replicaName: name, leaseMs: 5_000, logger: captureLogger().logger });
    t.teardown(() => store.close());
    return store;
  };
  const [a, b] = await Promise.all([open('a'), open('b')]);
  t.equal((await ensure({}, sharedMarker(a))).changed, true, 'the first replica registers');
  t.same(await ensure({}, sharedMarker(b)), { changed: false, reasons: [] }, 'the second finds the shared marker');
  t.equal(fake.setWebhookCount, 1);
  t.notOk(existsSync(path.join(dir, 'data', 'webhook-registration.json')), 'nothing in DATA_DIR');
  t.notMatch((await b.getMeta(MARKER_META_KEY)) ?? '', TEST_SECRET, 'the marker holds a hash of the secret, not the secret');
});

t.test('ensureWebhook re-registers when the secret, max_connections, URL or certificate changed', async (t) => {
  const { fake, dir, ensure } = await ensureSetup(t);
  await ensure();
  t.match((await ensure({ TELEGRAM_WEBHOOK_SECRET: 'rotated-secret_123' })).reasons, ['secret changed']);
  t.match((await ensure({ TELEGRAM_WEBHOOK_SECRET: 'rotated-secret_123', TELEGRAM_MAX_CONNECTIONS: '5' })).reasons, ['max_connections changed']);
  t.match((await ensure({ TELEGRAM_WEBHOOK_SECRET: 'rotated-secret_123', TELEGRAM_MAX_CONNECTIONS: '5', WEBHOOK_PATH: '/hook' })).reasons, ['url changed']);
  const rotated = await generateSelfSigned({ host: 'bot.example.com' });
  writeFileSync(path.join(dir, 'cert.pem'), rotated.cert);
  const certChange = await ensure({ TELEGRAM_WEBHOOK_SECRET: 'rotated-secret_123', TELEGRAM_MAX_CONNECTIONS: '5', WEBHOOK_PATH: '/hook' });
  t.same(certChange.reasons, ['certificate changed']);
  t.equal(fake.webhook?.certificate, rotated.cert);
  t.equal(fake.setWebhookCount, 5);
});

t.test('ensureWebhook re-registers when someone else changed the webhook or the marker is gone', async (t) => {
  const { fake, dir, ensure } = await ensureSetup(t);
  await ensure();
  await fetch(`${fake.apiBase}/bot${TEST_TOKEN}/setWebhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://elsewhere.example.com/hook' }),
  });
  t.match((await ensure()).reasons, ['url changed']);
  await rm(path.join(dir, 'data/webhook-registration.json'));
  t.same((await ensure()).reasons, ['no record of the registered secret']);
  t.same((await ensure()).changed, false);
});

t.test('ensureWebhook propagates a Telegram refusal so the gateway can alert', async (t) => {
  const { fake, ensure } = await ensureSetup(t);
  fake.failNext('setWebhook', { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: bad webhook: Failed to resolve host' } });
  await t.rejects(ensure(), /Failed to resolve host/);
});
