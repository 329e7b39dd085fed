import { generateKeyPairSync } from 'node:crypto';
import { createRedactor } from '../../src/observability/redact.js';
import type { BenchContext } from './context.js';
import { round } from './stats.js';

export interface RedactResults {
  /** Mean microseconds per call on 64 KiB, by kind of text. */
  prose_us: number;
  base64_us: number;
  /** With a PEM block and a leaked token in the middle (the work when something is found). */
  leaky_us: number;
  runs: number;
}

const SIZE = 64 * 1024;

/**
 * The outbound redactor on a 64 KiB skill output (the default SKILL_MAX_OUTPUT_BYTES), with the
 * secrets a production gateway has: bot token, webhook secret, API key, Discord webhook token and
 * the private numbers of a 2048-bit RSA TLS key (the largest set of windows it builds).
 */
export async function benchRedact(ctx: BenchContext): Promise<RedactResults> {
  const token = '123456789:AAFakeTokenForBenchOnly_abcdefghijkl';
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const numbers = (['d', 'p', 'q', 'dp', 'dq', 'qi'] as const).map((k) => Buffer.from(String(jwk[k]), 'base64url'));
  const redact = createRedactor([token, 'bench-webhook-secret_0123456789', 'sk-bench-key-0123456789abcdef', 'dscWebhookTok3n_abcdefghijk', ...numbers]);
  const prose = 'The quick brown fox jumps over the lazy dog; files: a.txt b.txt c.txt.\n'.repeat(1000).slice(0, SIZE);
  const base64 = Buffer.from(prose).toString('base64').slice(0, SIZE);
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
  const leaky = `${prose.slice(0, SIZE / 2)}${pem}${token}${prose}`.slice(0, SIZE);
  const runs = ctx.profile.name === 'quick' ? 100 : 500;
  const mean = (text: string) => {
    for (let i = 0; i < 20; i++) redact(text);
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) redact(text);
    return round(Number(process.hrtime.bigint() - started) / 1000 / runs, 1);
  };
  ctx.progress(`redact: ${runs} calls on 64 KiB of prose, base64 and a leaky output`);
  return { prose_us: mean(prose), base64_us: mean(base64), leaky_us: mean(leaky), runs };
}
