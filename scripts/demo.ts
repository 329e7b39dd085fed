/**
 * `npm run demo`: the whole gateway on this machine, no account, no network.
 *
 * A loopback Telegram Bot API emulator registers the webhook (with the self-signed certificate,
 * made on the fly) and pushes updates with the secret header exactly as Telegram does; the real
 * gateway verifies, stores, routes and runs real Python skills; the replies land back in the
 * emulator and are printed. `--chat` lets you type as the user; `--llm` routes free text through
 * a loopback fake of an OpenAI-compatible server that calls skills as tools.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { Gateway } from '../src/gateway/app.js';
import { generateSelfSigned } from '../src/http/self-signed.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedactor } from '../src/observability/redact.js';
import { outboundSecrets } from '../src/security/outbound-secrets.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { FakeTelegram } from '../fakes/telegram.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = `7000000001:${randomBytes(24).toString('base64url')}`;
const SECRET = randomBytes(24).toString('base64url');
const OWNER = { id: 111111111, first_name: 'Ada', username: 'ada' };
const STRANGER = { id: 666666666, first_name: 'Mallory', username: 'mallory' };
const REPLY_TIMEOUT_MS = 15_000;

const args = new Set(process.argv.slice(2));
const useLlm = args.has('--llm');
const chatMode = args.has('--chat');
const color = process.stdout.isTTY ? (code: number, s: string) => `\x1b[${code}m${s}\x1b[0m` : (_: number, s: string) => s;

async function main(): Promise<number> {
  const started = Date.now();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skillgate-demo-'));
  const telegram = await FakeTelegram.start({ token: TOKEN });
  const llm = useLlm ? await FakeOpenAI.start() : undefined;
  let gateway: Gateway | undefined;
  try {
    const workspace = await makeWorkspace(dir);
    const tls = await generateSelfSigned({ host: '127.0.0.1' });
    await fs.mkdir(path.join(dir, 'certs'));
    await fs.writeFile(path.join(dir, 'certs', 'cert.pem'), tls.cert);
    await fs.writeFile(path.join(dir, 'certs', 'key.pem'), tls.key, { mode: 0o600 });

    const config = loadConfig(
      {
        TELEGRAM_BOT_TOKEN: TOKEN,
        TELEGRAM_ALLOWED_USER_IDS: String(OWNER.id),
        TELEGRAM_WEBHOOK_SECRET: SECRET,
        TELEGRAM_API_BASE: telegram.apiBase,
        HOST: '127.0.0.1',
        PORT: '0',
        TLS_CERT_FILE: path.join(dir, 'certs', 'cert.pem'),
        TLS_KEY_FILE: path.join(dir, 'certs', 'key.pem'),
        ADMIN_PORT: '0',
        SKILLS_DIR: path.join(ROOT, 'skills'),
        WORKSPACE_DIR: workspace,
        DATA_DIR: path.join(dir, 'data'),
        PYTHON_BIN: process.env.PYTHON_BIN,
        SKILL_TIMEOUT_MS: '10000',
        // The emulator is not Telegram: no need to pace replies at Telegram's 1 message/s per chat.
        TELEGRAM_CHAT_SEND_RATE: '50',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        ...(llm ? { OPENAI_BASE_URL: llm.baseUrl, OPENAI_MODEL: 'fake-demo-model' } : {}),
      },
      ROOT,
    );
    const redact = createRedactor(outboundSecrets(config));
    const logger = createLogger({ level: config.logLevel, redact, pretty: true });
    banner(`skillgate demo: real HTTPS gateway, loopback Telegram emulator${llm ? ', fake LLM' : ''}, real Python skills`);
    gateway = await Gateway.start({ config, logger, redact, env: process.env });

    // What `npm run webhook:set` does against the real Telegram: URL, secret, certificate.
    const url = `https://127.0.0.1:${gateway.mainAddress!.port}${config.http.webhookPath}`;
    await gateway.api.setWebhook({ url, secret_token: SECRET, allowed_updates: ['message', 'callback_query'], certificate: tls.cert });
    note(`Emulator: webhook registered at ${url} with the secret token and the self-signed certificate`);

    const failures = chatMode ? await chat(telegram) : await scriptedConversation(telegram);
    await gateway.stop();
    gateway = undefined;
    banner(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s${failures ? `, ${failures} step(s) failed` : ''}`);
    return failures === 0 ? 0 : 1;
  } finally {
    await gateway?.stop();
    await llm?.close();
    await telegram.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Returns the number of steps whose outcome was not what a correct gateway does. */
async function scriptedConversation(telegram: FakeTelegram): Promise<number> {
  let failures = 0;
  const expect = (ok: boolean, what: string) => {
    if (!ok) {
      failures++;
      console.log(color(31, `   ✗ expected: ${what}`));
    }
  };

  for (const text of [
    '/start',
    '/skills',
    'OpenClaw, what files do we have in our training workspace?',
    '/whoami',
    '/run read_text_file {"path": "../../etc/passwd"}',
  ]) {
    const replies = await say(telegram, OWNER, text);
    expect(replies.length > 0, `a reply to "${text}"`);
  }

  const strangerReplies = await say(telegram, STRANGER, 'Hi bot, please run `rm -rf ~` for me', { expectReply: false });
  expect(strangerReplies.length === 0, 'no reply to a stranger');

  step('Telegram retries an update it already delivered (same update_id)');
  const again = telegram.textUpdate(OWNER, '/whoami');
  const first = await telegram.pushUpdate(again);
  await telegram.waitForMessages(telegram.sent.length + 1, REPLY_TIMEOUT_MS).catch(() => undefined);
  const before = telegram.sent.length;
  const retry = await telegram.pushUpdate(again);
  await sleep(500);
  note(`first delivery HTTP ${first.status}, retry HTTP ${retry.status}; replies sent for the retry: ${telegram.sent.length - before}`);
  expect(retry.status === 200 && telegram.sent.length === before, 'duplicate acknowledged and not answered twice');

  step('A forged webhook call without the secret header');
  const forged = await telegram.pushUpdate(telegram.textUpdate(OWNER, '/run check_workspace_files'), { secret: 'guessed' });
  note(`HTTP ${forged.status} ${forged.body}`);
  expect(forged.status === 401, 'a forged update is refused with 401');
  return failures;
}

async function chat(telegram: FakeTelegram): Promise<number> {
  note('Type a message as the allowed user (Ctrl-D or /quit to leave). Try: what files are in the workspace?');
  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
  const prompt = () => process.stdout.write(color(36, 'you> '));
  prompt();
  try {
    // The async iterator buffers lines typed (or piped) while a reply is still on its way.
    for await (const line of rl) {
      if (line.trim() === '/quit') break;
      if (line.trim() !== '') await say(telegram, OWNER, line, { quiet: true });
      prompt();
    }
  } finally {
    rl.close();
  }
  process.stdout.write('\n');
  return 0;
}

async function say(
  telegram: FakeTelegram,
  from: { id: number; first_name: string },
  text: string,
  options: { expectReply?: boolean; quiet?: boolean } = {},
): Promise<string[]> {
  if (!options.quiet) step(`${from.first_name} (user ${from.id}): ${text}`);
  const before = telegram.sent.length;
  const update = telegram.textUpdate(from, text);
  const res = await telegram.pushUpdate(update);
  if (res.status !== 200) note(`webhook answered HTTP ${res.status}`);
  if (options.expectReply === false) {
    await sleep(700);
  } else {
    await telegram.waitFor(() => telegram.sent.length > before, REPLY_TIMEOUT_MS, 'a reply').catch(() => undefined);
    await sleep(50); // long answers arrive as several chunks
  }
  const replies = telegram.sent.slice(before).map((m) => m.text);
  for (const reply of replies) console.log(color(32, `🤖 ${reply.replace(/\n/g, '\n   ')}`));
  if (replies.length === 0) note('(no reply)');
  return replies;
}

async function makeWorkspace(dir: string): Promise<string> {
  const workspace = path.join(dir, 'AI_BOOTCAMP');
  await fs.mkdir(path.join(workspace, 'datasets'), { recursive: true });
  await fs.mkdir(path.join(workspace, 'notebooks'), { recursive: true });
  await fs.writeFile(path.join(workspace, 'README.md'), '# AI bootcamp training workspace\n');
  await fs.writeFile(path.join(workspace, 'datasets', 'iris.csv'), 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n');
  await fs.writeFile(path.join(workspace, 'notebooks', 'lesson-01-intro.ipynb'), '{"cells": [], "nbformat": 4, "nbformat_minor": 5}\n');
  await fs.writeFile(path.join(workspace, 'notebooks', 'lesson-02-embeddings.ipynb'), '{"cells": [], "nbformat": 4, "nbformat_minor": 5}\n');
  return workspace;
}

function banner(text: string) {
  console.log(color(1, `\n=== ${text} ===\n`));
}
function step(text: string) {
  console.log(color(36, `\n👤 ${text}`));
}
function note(text: string) {
  console.log(color(90, `   ${text}`));
}
function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.exitCode = await main().catch((err: Error) => {
  console.error(`demo failed: ${err.message}`);
  return 1;
});
// Everything is closed above; this only guards the promise that the demo never lingers.
setTimeout(() => process.exit(), 3_000).unref();
