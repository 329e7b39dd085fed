import { request, type Dispatcher } from 'undici';
import { FakeTelegram } from '../../fakes/telegram.js';
import { gatewayEnv, startGatewayProcess, type RunningProcess } from './gateway-process.js';
import { TEST_SECRET, TEST_TOKEN } from './logger.js';
import type { TestContext } from './tap.js';

/**
 * The real gateway process (TLS=off, as it runs behind a proxy or a tunnel) with the fake
 * Telegram as its Bot API, for the tests that put real deployment tools in front of it.
 */
export interface LiveGateway {
  telegram: FakeTelegram;
  process: RunningProcess;
  port: number;
  /** The gateway's JSON log lines so far. */
  logLines(): Array<Record<string, unknown>>;
}

export async function startLiveGateway(t: TestContext, extraEnv: Record<string, string> = {}): Promise<LiveGateway> {
  const telegram = await FakeTelegram.start({ token: TEST_TOKEN });
  const dir = t.testdir({ skills: {}, workspace: {} });
  const gateway = startGatewayProcess(gatewayEnv(dir, telegram.apiBase, { HOST: '127.0.0.1', ...extraEnv }), dir);
  t.teardown(async () => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGTERM');
    await gateway.exited;
    await telegram.close();
  });
  await gateway.waitForOutput(/Listening on HTTP port \d+/);
  const port = Number(/Listening on HTTP port (\d+)/.exec(gateway.stdout())![1]);
  const logLines = () =>
    gateway
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { telegram, process: gateway, port, logLines };
}

/** A POST as Telegram sends it: JSON, the secret header (unless `secret` is null), any extra headers. */
export async function telegramPost(
  url: string,
  body: object | string,
  options: { secret?: string | null; headers?: Record<string, string>; dispatcher?: Dispatcher } = {},
): Promise<{ status: number; text: string }> {
  const secret = options.secret === undefined ? TEST_SECRET : options.secret;
  const res = await request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
  return { status: res.statusCode, text: await res.body.text() };
}
