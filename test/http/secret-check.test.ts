import t from 'tap';
import { createSecretChecker } from '../../src/http/secret-check.js';

const SECRET = 'webhook_secret-Value1';

t.test('the secret itself matches', async (t) => {
  t.equal(createSecretChecker(SECRET)(SECRET), true);
});

t.test('a wrong guess of the same length, a prefix, a longer string and the empty string do not match', async (t) => {
  const matches = createSecretChecker(SECRET);
  t.equal(matches('webhook_secret-Value2'), false);
  t.equal(matches(SECRET.slice(0, -1)), false);
  t.equal(matches(`${SECRET}x`), false);
  t.equal(matches(''), false);
  t.equal(matches(SECRET.toUpperCase()), false, 'case matters');
});

t.test('a missing header or a repeated one (an array) never matches and never throws', async (t) => {
  const matches = createSecretChecker(SECRET);
  t.equal(matches(undefined), false);
  t.equal(matches([SECRET, SECRET]), false);
  t.equal(matches(42), false);
});

t.test('an empty configured secret matches only the empty string', async (t) => {
  const matches = createSecretChecker('');
  t.equal(matches(''), true);
  t.equal(matches(' '), false);
});

t.test('a guess far longer than the secret is refused like any other', async (t) => {
  t.equal(createSecretChecker(SECRET)('x'.repeat(4096)), false);
});
