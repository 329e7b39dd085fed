import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Returns a constant-time checker for the webhook secret. Both sides are hashed first so the
 * comparison takes the same time whatever the length of the guess (timingSafeEqual itself
 * throws on unequal lengths, which would leak the secret's length). crypto.hash is the one-shot
 * form: no Hash object per request.
 */
export function createSecretChecker(secret: string): (candidate: unknown) => boolean {
  const expected = hash('sha256', secret, 'buffer');
  return (candidate) => {
    if (typeof candidate !== 'string') return false;
    return timingSafeEqual(hash('sha256', candidate, 'buffer'), expected);
  };
}
