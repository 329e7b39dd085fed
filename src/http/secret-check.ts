import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Returns a constant-time checker for the webhook secret. Both sides are hashed first so the
 * comparison takes the same time whatever the length of the guess (timingSafeEqual itself
 * throws on unequal lengths, which would leak the secret's length).
 */
export function createSecretChecker(secret: string): (candidate: unknown) => boolean {
  const expected = createHash('sha256').update(secret).digest();
  return (candidate) => {
    if (typeof candidate !== 'string') return false;
    const actual = createHash('sha256').update(candidate).digest();
    return timingSafeEqual(actual, expected);
  };
}
