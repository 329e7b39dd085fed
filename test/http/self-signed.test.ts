import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createServer } from 'node:https';
import { Agent, request } from 'undici';
import { generateSelfSigned } from '../../src/http/self-signed.js';

t.test('a certificate for an IP address carries an IP SAN and is self-issued', async (t) => {
  const { cert, key } = await generateSelfSigned({ host: '127.0.0.1' });
  const x509 = new X509Certificate(cert);
  t.equal(x509.subjectAltName, 'IP Address:127.0.0.1');
  t.equal(x509.issuer, x509.subject, 'self-signed: issuer equals subject');
  t.ok(x509.checkPrivateKey(createPrivateKey(key)), 'key matches the certificate');
});

t.test('a certificate for a name carries a DNS SAN', async (t) => {
  const { cert } = await generateSelfSigned({ host: 'bot.example.org' });
  const x509 = new X509Certificate(cert);
  t.equal(x509.subjectAltName, 'DNS:bot.example.org');
  t.equal(x509.checkHost('bot.example.org'), 'bot.example.org');
});

t.test('a bracketed IPv6 address becomes an IP SAN', async (t) => {
  const { cert } = await generateSelfSigned({ host: '[::1]' });
  t.match(new X509Certificate(cert).subjectAltName, /^IP Address:0:0:0:0:0:0:0:1|^IP Address:::1/);
});

t.test('an empty host is refused', async (t) => {
  await t.rejects(generateSelfSigned({ host: '  ' }), { code: 'SG_INVALID_OPTION' });
});

t.test('a client that trusts the certificate as its CA completes a TLS handshake on 127.0.0.1', async (t) => {
  const { cert, key } = await generateSelfSigned({ host: '127.0.0.1' });
  const server = createServer({ cert, key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  const dispatcher = new Agent({ connect: { ca: cert } });
  t.teardown(() => dispatcher.close());
  const res = await request(`https://127.0.0.1:${port}/`, { dispatcher });
  t.equal(await res.body.text(), 'ok');
});
