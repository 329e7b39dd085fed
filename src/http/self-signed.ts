import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { SkillgateError } from '../errors.js';

/** A PEM certificate and its private key. */
export interface SelfSignedPair {
  cert: string;
  key: string;
}

export interface SelfSignedOptions {
  /** The name or IP address Telegram (or the demo's client) connects to; goes into CN and SAN. */
  host: string;
  /** Validity in days. Default 3650: Telegram does not care, and an expired webhook cert is a silent outage. */
  days?: number;
}

/**
 * A self-signed server certificate whose SAN matches `host`: an IP SAN for addresses (clients
 * ignore the CN and DNS SANs when they connect by IP), a DNS SAN for names. Telegram accepts such
 * a certificate when it is uploaded with setWebhook; the demo trusts it by passing it as the CA.
 */
export async function generateSelfSigned(options: SelfSignedOptions): Promise<SelfSignedPair> {
  const host = normaliseHost(options.host);
  const days = options.days ?? 3650;
  const notBeforeDate = new Date(Date.now() - 60_000); // tolerate small clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000);
  const altName = isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host };
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Accepts `[::1]` as well as `::1`; refuses empty or whitespace-laden input early. */
function normaliseHost(raw: string): string {
  const host = raw.trim().replace(/^\[(.*)\]$/, '$1');
  if (!host || /[\s/]/.test(host)) {
    throw new SkillgateError('SG_INVALID_OPTION', `generateSelfSigned: "${raw}" is not a host name or IP address`);
  }
  return host;
}
