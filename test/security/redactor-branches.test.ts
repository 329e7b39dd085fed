import t from 'tap';
import { createRedactor, REDACTED } from '../../src/security/redactor.js';

/** The unit cases redactor.test.ts (the leak forms) does not reach: edge inputs of the redactor itself. */

const SECRET = 'sk-live-0123456789abcdefXYZ';

t.test('empty text comes back as it is', async (t) => {
  t.equal(createRedactor([SECRET])(''), '');
});

t.test('an empty secret in the list is skipped, not matched everywhere', async (t) => {
  const redact = createRedactor(['', SECRET]);
  t.equal(redact('nothing secret here'), 'nothing secret here');
  t.equal(redact(`key=${SECRET}`), `key=${REDACTED}`);
});

t.test('a secret holding a lone surrogate (no percent form exists) is still redacted as written', async (t) => {
  const odd = `abc\ud800defghijklmnop`;
  const redact = createRedactor([odd]);
  t.equal(redact(`x ${odd} y`), `x ${REDACTED} y`);
});

t.test('with no secrets at all, text passes unchanged, but a PEM private key is still taken out', async (t) => {
  const redact = createRedactor([]);
  t.equal(redact('plain words'), 'plain words');
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----';
  t.equal(redact(`before ${pem} after`), `before ${REDACTED} after`);
});
