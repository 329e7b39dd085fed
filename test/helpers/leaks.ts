import { generateKeyPairSync } from 'node:crypto';

/**
 * An attacker's view of outbound text: the ways a skill or a steered model would try to get a
 * secret out, and an independent detector (it decodes what it finds; it does not share the
 * redactor's code) that reports any piece of a secret still recoverable from a text.
 */

export interface LeakSecrets {
  token: string;
  webhookSecret: string;
  apiKey?: string;
  /** Binary key material (a TLS key's private number), found in hex and base64 only. */
  keyNumbers?: Uint8Array[];
}

/** Unconfigured private keys: a PEM block is redacted whatever key it holds. */
export function freshPems(): { ec: string; rsa: string } {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { ec, rsa };
}

/** One labelled line (or block) per leak form; `pems` are printed as they are. */
export function leakPayloads(s: LeakSecrets, pems: { ec: string; rsa: string }): Array<[string, string]> {
  const part = s.token.slice(s.token.indexOf(':') + 1);
  const env = `# .env\nHOST=0.0.0.0\nTELEGRAM_BOT_TOKEN=${s.token}\nTELEGRAM_WEBHOOK_SECRET=${s.webhookSecret}\n${s.apiKey ? `OPENAI_API_KEY=${s.apiKey}\n` : ''}LOG_LEVEL=info\n`;
  const forms: Array<[string, string]> = [
    ['whole token', s.token],
    ['token minus its last char', s.token.slice(0, -1)],
    ['secret part alone', part],
    ['12-char slice at 0', part.slice(0, 12)],
    ['12-char slice at 7', part.slice(7, 19)],
    ['12-char slice at the end', part.slice(-12)],
    ['webhook secret minus first char', s.webhookSecret.slice(1)],
    ['hex', Buffer.from(s.token).toString('hex')],
    ['HEX', Buffer.from(s.token).toString('hex').toUpperCase()],
    ['percent', encodeURIComponent(s.token)],
    ['percent every byte', [...Buffer.from(s.webhookSecret)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')],
  ];
  // Offsets 0/1/2 of the .env inside a larger base64 stream: every byte alignment of each secret.
  for (const [i, pad] of ['', 'x', 'xy'].entries()) {
    forms.push([`base64 of .env at offset ${i}`, Buffer.from(pad + env).toString('base64')]);
    forms.push([`base64url of .env at offset ${i}`, Buffer.from(pad + env).toString('base64url')]);
  }
  if (s.apiKey) forms.push(['api key minus last char', s.apiKey.slice(0, -1)]);
  for (const n of s.keyNumbers ?? []) forms.push(['key number hex', Buffer.from(n).toString('hex')]);
  forms.push(['EC key', pems.ec], ['RSA key', pems.rsa], ['PEM without END line', pems.rsa.split('\n').slice(0, 9).join('\n')]);
  return forms;
}

export function payloadText(forms: Array<[string, string]>): string {
  return forms.map(([label, value]) => `${label}: ${value}`).join('\n');
}

/** Every recoverable piece: 12+ chars of a secret as text, 8+ bytes through base64, 6+ through hex. */
export function findLeaks(text: string, s: LeakSecrets): string[] {
  const found: string[] = [];
  const texts = [s.token, s.token.slice(s.token.indexOf(':') + 1), s.webhookSecret, ...(s.apiKey ? [s.apiKey] : [])];
  const byteSecrets = [...texts.map((t) => Buffer.from(t)), ...(s.keyNumbers ?? []).map((n) => Buffer.from(n))];
  const plain = percentDecode(text);
  for (const secret of texts) {
    for (let i = 0; i + 12 <= secret.length; i++) {
      const w = secret.slice(i, i + 12);
      if (plain.includes(w)) found.push(`text: ${w}`);
    }
  }
  for (const run of text.match(/[A-Za-z0-9+/_-]{11,}/g) ?? []) {
    const std = run.replace(/-/g, '+').replace(/_/g, '/');
    for (let shift = 0; shift < 4; shift++) checkBytes(Buffer.from(std.slice(shift), 'base64'), 8, 'base64', byteSecrets, found);
  }
  for (const run of text.match(/[0-9a-fA-F]{12,}/g) ?? []) {
    for (let shift = 0; shift < 2; shift++) checkBytes(Buffer.from(run.slice(shift).slice(0, (run.length - shift) & ~1), 'hex'), 6, 'hex', byteSecrets, found);
  }
  if (/PRIVATE KEY-----(?:\s|\\n)*[A-Za-z0-9+/]{8}/.test(text)) found.push('a PEM private key body');
  return found;
}

function checkBytes(decoded: Buffer, n: number, how: string, secrets: Buffer[], found: string[]): void {
  if (decoded.length < n) return;
  for (const secret of secrets) {
    for (let i = 0; i + n <= secret.length; i++) {
      if (decoded.includes(secret.subarray(i, i + n))) {
        found.push(`${how}: bytes ${i}..${i + n} of a secret`);
        return;
      }
    }
  }
}

function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
