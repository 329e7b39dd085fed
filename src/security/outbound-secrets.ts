import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Secret } from './secret-forms.js';

/** The private parts of a JWK, per key type (RSA's primes and exponents, EC/OKP's `d`). */
const PRIVATE_JWK_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

/**
 * Everything the outbound redactor must know: the config's secrets (bot token, webhook secret,
 * API key, Discord webhook token) and the TLS private key's secret numbers. Only those numbers
 * are listed, not the whole key file: its ASN.1 headers and public half are shared with the
 * certificate, which may be shown freely. The PEM block itself is redacted on sight anyway.
 */
export function outboundSecrets(config: Pick<Config, 'secrets' | 'http'>): Secret[] {
  return [...config.secrets, ...privateKeyNumbers(config.http.keyFile)];
}

/** A missing, unreadable or passphrase-protected key yields nothing: then it cannot leak in clear. */
export function privateKeyNumbers(keyFile: string): Uint8Array[] {
  let jwk: JsonWebKey;
  try {
    jwk = createPrivateKey(fs.readFileSync(keyFile)).export({ format: 'jwk' });
  } catch {
    return [];
  }
  const numbers: Uint8Array[] = [];
  for (const field of PRIVATE_JWK_FIELDS) {
    const value = jwk[field];
    if (typeof value !== 'string' || value.length === 0) continue;
    // Wherever the DER puts the number (after a leading zero byte or not), its bytes are a run
    // of the file: the file's base64 and hex contain them at one of the three alignments.
    numbers.push(Buffer.from(value, 'base64url'));
  }
  return numbers;
}
