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

t.test('zero padding never makes a different guess match', async (t) => {
  const matches = createSecretChecker(SECRET);
  t.equal(matches(`${SECRET}\u0000`), false, 'the secret plus a NUL');
  t.equal(matches(SECRET.slice(0, -1) + '\u0000'), false);
  t.equal(createSecretChecker('')('\u0000'), false, 'a NUL against the empty secret');
});

t.test('a guess is compared as UTF-8, never by the low byte of each character', async (t) => {
  const matches = createSecretChecker('A');
  t.equal(matches('\u0141'), false, 'U+0141 (low byte 0x41) is not "A"');
  t.equal(matches('A'), true);
});

t.test('secrets up to 256 bytes; a longer guess that starts with the secret is refused', async (t) => {
  const longest = 'a'.repeat(256);
  t.equal(createSecretChecker(longest)(longest), true);
  t.equal(createSecretChecker(longest)(`${longest}a`), false);
  const almost = 'b'.repeat(255);
  t.equal(createSecretChecker(almost)(`${almost}é`), false, 'the 2-byte character that does not fit is not ignored');
  t.throws(() => createSecretChecker('c'.repeat(257)), RangeError, 'a secret Telegram would refuse is refused here');
});
