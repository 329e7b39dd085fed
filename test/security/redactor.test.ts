import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateSelfSigned } from '../../src/http/self-signed.js';
import { createRedactor, REDACTED } from '../../src/security/redactor.js';
import { outboundSecrets, privateKeyNumbers } from '../../src/security/outbound-secrets.js';
import { findLeaks, freshPems, leakPayloads } from '../helpers/leaks.js';
import { TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';

const API_KEY = 'sk-test-secret-key-0123456789abcdef';
const DISCORD_URL = 'https://discord.com/api/webhooks/112233445566778899/dscWebhookTok3n_abcdefghijklmnop-XYZ';
const secrets = { token: TEST_TOKEN, webhookSecret: TEST_SECRET, apiKey: API_KEY };
const redact = createRedactor([TEST_TOKEN, TEST_SECRET, API_KEY, DISCORD_URL, 'dscWebhookTok3n_abcdefghijklmnop-XYZ']);
const pems = freshPems();

t.test('every leak form is caught, each on its own and all in one text', async (t) => {
  const forms = leakPayloads(secrets, pems);
  for (const [label, value] of forms) {
    t.not(findLeaks(value, secrets).length, 0, `${label}: the detector sees the leak before redaction`);
    const out = redact(`${label}: ${value}`);
    t.same(findLeaks(out, secrets), [], label);
    t.ok(out.includes(REDACTED), `${label}: a marker shows that something was taken out`);
  }
  const all = forms.map(([l, v]) => `${l}: ${v}`).join('\n');
  t.same(findLeaks(redact(all), secrets), []);
});

t.test('a PEM private key is redacted whole, and so is one cut before its END line', async (t) => {
  for (const pem of [pems.ec, pems.rsa, pems.rsa.slice(0, 300)]) {
    const out = redact(`before\n${pem}`);
    t.equal(out.trimEnd(), `before\n${REDACTED}`);
  }
  // Inside a JSON log line, with \n escapes, cut at a preview's length.
  const line = JSON.stringify({ msg: 'tool output', output: pems.ec.slice(0, 120) });
  const out = redact(line);
  t.notMatch(out, /MHcCAQEE|BEGIN EC PRIVATE KEY-----\\n[A-Za-z0-9]/);
  t.doesNotThrow(() => JSON.parse(out), 'the line is still JSON');
  // Text after a complete block stays.
  t.equal(redact(`${pems.ec}and then the rest`), `${REDACTED}\nand then the rest`);
});

t.test('ordinary text and short pieces of secrets are not mangled', async (t) => {
  const prose = [
    'Hello! Your workspace has 3 files: notes.txt, data.csv and README.md.',
    'The bot id 123456789 is public; so is https://discord.com/api/webhooks/ as a prefix.',
    `Pieces under 12 characters pass: ${TEST_TOKEN.slice(10, 21)} ${TEST_SECRET.slice(0, 11)} ${API_KEY.slice(3, 14)}`,
    'base64 of hello world: aGVsbG8gd29ybGQ=, hex: 68656c6c6f, url: https://example.com/a%20b?q=1',
    '{"update_id":42,"message":{"text":"ordinary json"}}',
    'Привет, 世界, emoji 🙂, and -----BEGIN CERTIFICATE----- is not a private key.',
  ].join('\n');
  t.equal(redact(prose), prose);
});

t.test('the TLS key: its private numbers are secrets, the certificate stays readable', async (t) => {
  const dir = t.testdir({});
  const pair = await generateSelfSigned({ host: '127.0.0.1' });
  const keyFile = path.join(dir, 'key.pem');
  fs.writeFileSync(keyFile, pair.key);
  const numbers = privateKeyNumbers(keyFile);
  t.ok(numbers.length >= 1, 'numbers were read from the key');
  const r = createRedactor(outboundSecrets({ secrets: [TEST_TOKEN], http: { keyFile } as never }));
  // The key's DER in hex (how a skill might dump it without the PEM armour), and the body alone.
  const der = createPrivateKey(pair.key).export({ format: 'der', type: 'pkcs8' });
  const body = pair.key.split('\n').filter((l) => l && !l.startsWith('-----')).join('\n');
  for (const text of [der.toString('hex'), der.toString('hex').toUpperCase(), body, der.toString('base64')]) {
    t.same(findLeaks(r(text), { token: TEST_TOKEN, webhookSecret: 'unused-unused-unused', keyNumbers: numbers }), []);
  }
  t.equal(r(pair.cert), pair.cert, 'the certificate (public) is not touched');
  t.same(privateKeyNumbers(path.join(dir, 'missing.pem')), [], 'a missing key file yields nothing');
});

t.test('the redactor is built once and cheap: the cost on a 64 KiB output', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const heavy = createRedactor([TEST_TOKEN, TEST_SECRET, API_KEY, ...['d', 'p', 'q', 'dp', 'dq', 'qi'].map((k) => Buffer.from(String(rsa[k as 'd']), 'base64url'))]);
  const prose = 'The quick brown fox jumps over the lazy dog; files: a.txt b.txt c.txt.\n'.repeat(1000).slice(0, 65536);
  const b64 = Buffer.from(prose).toString('base64').slice(0, 65536);
  for (const [name, text] of [['prose', prose], ['base64', b64]] as const) {
    for (let i = 0; i < 50; i++) heavy(text);
    const runs = 200;
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) heavy(text);
    const meanUs = Number(process.hrtime.bigint() - started) / 1000 / runs;
    t.comment(`redactor on 64 KiB of ${name}: ${meanUs.toFixed(0)} µs mean (token, secret, API key and an RSA key's numbers configured)`);
    t.equal(heavy(text), text, `${name} passes unchanged`);
  }
});
