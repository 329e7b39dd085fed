import t from 'tap';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSelfSigned } from '../../src/telegram/webhook-registration.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runCerts(args: string[], cwd: string, env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'scripts/certs.ts'), ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

t.test('npm run certs -- --host IP writes certs/cert.pem and a 0600 key with an IP SAN, and says how to register it', async (t) => {
  const dir = t.testdir();
  const run = await runCerts(['--host', '203.0.113.7'], dir);
  t.equal(run.code, 0, run.stderr);
  const cert = readFileSync(path.join(dir, 'certs/cert.pem'), 'utf8');
  const x509 = new X509Certificate(cert);
  t.equal(x509.subjectAltName, 'IP Address:203.0.113.7');
  t.ok(isSelfSigned(cert));
  t.ok(x509.checkPrivateKey(createPrivateKey(readFileSync(path.join(dir, 'certs/key.pem')))));
  t.equal(statSync(path.join(dir, 'certs/key.pem')).mode & 0o777, 0o600);
  t.match(run.stdout, /PUBLIC_URL=https:\/\/203\.0\.113\.7:8443/);
  t.match(run.stdout, /npm run webhook:set/);
});

t.test('npm run certs -- --host NAME gives a DNS SAN and honours TLS_CERT_FILE/TLS_KEY_FILE', async (t) => {
  const dir = t.testdir();
  const run = await runCerts(['--host', 'bot.example.org'], dir, { TLS_CERT_FILE: 'tls/c.pem', TLS_KEY_FILE: 'tls/k.pem' });
  t.equal(run.code, 0, run.stderr);
  t.equal(new X509Certificate(readFileSync(path.join(dir, 'tls/c.pem'))).subjectAltName, 'DNS:bot.example.org');
});

t.test('npm run certs refuses to overwrite existing files without --force, and replaces them with it', async (t) => {
  const dir = t.testdir();
  await runCerts(['--host', '203.0.113.7'], dir);
  const before = readFileSync(path.join(dir, 'certs/cert.pem'), 'utf8');
  const refused = await runCerts(['--host', '203.0.113.8'], dir);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /Refusing to overwrite .*--force/);
  const forced = await runCerts(['--host', '203.0.113.8', '--force'], dir);
  t.equal(forced.code, 0);
  t.not(readFileSync(path.join(dir, 'certs/cert.pem'), 'utf8'), before);
  t.equal(statSync(path.join(dir, 'certs/key.pem')).mode & 0o777, 0o600);
});

t.test('npm run certs without a valid --host prints usage and exits 64', async (t) => {
  const dir = t.testdir();
  for (const args of [[], ['--host', ''], ['--host', 'https://x/y'], ['--host', 'a b'], ['--bogus']]) {
    const run = await runCerts(args, dir);
    t.equal(run.code, 64, `args ${JSON.stringify(args)}`);
    t.match(run.stderr, /Usage: npm run certs/);
  }
});
