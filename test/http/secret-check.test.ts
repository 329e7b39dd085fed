import t from 'tap';
import { createSecretChecker } from '../../src/http/secret-check.js';

t.test('the secret check accepts exactly the secret, whatever the length or type of a guess', async (t) => {
  const matches = createSecretChecker('s3cret_token-ABC');
  t.ok(matches('s3cret_token-ABC'));
  for (const guess of ['', 's3cret_token-AB', 's3cret_token-ABCD', 'S3cret_token-ABC', 'x'.repeat(4096)]) t.notOk(matches(guess), JSON.stringify(guess.slice(0, 20)));
  for (const guess of [undefined, null, 42, ['s3cret_token-ABC']]) t.notOk(matches(guess), `not a string: ${String(guess)}`);
});
