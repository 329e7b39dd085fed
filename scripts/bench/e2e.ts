import { FakeOpenAI } from '../../fakes/openai.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewaySpec, type BenchContext } from './context.js';
import { startGateway } from './gateway-process.js';
import { BASE_USER_ID, BENCH_TOKEN, telegramUpdate } from './payload.js';
import { percentiles, type Percentiles } from './stats.js';
import { WebhookClient } from './webhook-client.js';

/** Free text the rule router matches to the ping skill by its name, and the fake LLM too. */
const E2E_TEXT = 'ping';
const REPLY_TIMEOUT_MS = 15_000;

export interface RoundTrips extends Percentiles {
  mean_ms: number;
  n: number;
  /** Webhook POST until the 200 (secret check, validation, fsync'd store). */
  ack: Percentiles;
}

export interface E2eResults {
  rules: RoundTrips;
  llm: RoundTrips;
}

/**
 * Update in, reply out: one update at a time is posted to the gateway's webhook and timed until
 * FakeTelegram has recorded the matching sendMessage. The message runs the ping skill, through
 * the rule router, then through the LLM router against FakeOpenAI answering at once (one tool
 * call, then the answer: two chat.completions round trips).
 */
export async function benchE2e(ctx: BenchContext): Promise<E2eResults> {
  const telegram = await FakeTelegram.start({ token: BENCH_TOKEN });
  const openai = await FakeOpenAI.start({ fallback: 'smart' });
  try {
    ctx.progress(`e2e: ${ctx.profile.e2eCalls} round trips, rule router`);
    const rules = await roundTrips(ctx, telegram, 'e2e-rules', {}, 'pong');
    ctx.progress(`e2e: ${ctx.profile.e2eCalls} round trips, LLM router (FakeOpenAI)`);
    const llm = await roundTrips(ctx, telegram, 'e2e-llm', { OPENAI_BASE_URL: openai.baseUrl, OPENAI_API_KEY: 'sk-bench-loopback' }, 'pong');
    return { rules, llm };
  } finally {
    await telegram.close();
    await openai.close();
  }
}

async function roundTrips(
  ctx: BenchContext,
  telegram: FakeTelegram,
  name: string,
  env: Record<string, string>,
  expected: string,
): Promise<RoundTrips> {
  const gateway = await startGateway(ctx.procs, await gatewaySpec(ctx, name, telegram.apiBase, { env }));
  const client = new WebhookClient(gateway.webhookUrl, ctx.tls.cert, 1);
  try {
    const total: number[] = [];
    const acks: number[] = [];
    // Update 0 is the warm-up (first connection, JIT, first skill fork); it is not counted.
    for (let i = 0; i <= ctx.profile.e2eCalls; i++) {
      const before = telegram.sent.length;
      const started = performance.now();
      const status = await client.post(telegramUpdate({ updateId: i + 1, userId: BASE_USER_ID, text: E2E_TEXT }));
      const acked = performance.now();
      if (status !== 200) throw new Error(`${name}: webhook answered ${status}\n${gateway.child.tail}`);
      await telegram.waitFor(() => telegram.sent.length > before, REPLY_TIMEOUT_MS, `the reply to update ${i + 1}`);
      const done = performance.now();
      const reply = telegram.sent[before]!.text;
      if (!reply.includes(expected)) throw new Error(`${name}: unexpected reply ${JSON.stringify(reply)}`);
      if (i === 0) continue;
      total.push(done - started);
      acks.push(acked - started);
    }
    const ack = percentiles(acks);
    return { ...percentiles(total), ack: { p50_ms: ack.p50_ms, p99_ms: ack.p99_ms } };
  } finally {
    await client.close();
    await gateway.child.stop();
  }
}
