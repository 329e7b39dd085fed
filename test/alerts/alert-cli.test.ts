import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeDiscord } from '../../fakes/discord.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const script = path.join(root, 'scripts/alert.ts');

/** Runs `npm run alert -- ...` the way npm does, in `cwd`, with only the given environment. */
function runAlert(args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(tsx, [script, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

t.test('npm run alert prints "Webhook dispatch succeeded." and exits 0 on a 204', async (t) => {
  const discord = await FakeDiscord.start();
  t.teardown(() => discord.close());
  const run = await runAlert(['disk', 'full'], { DISCORD_WEBHOOK_URL: discord.url }, t.testdir());
  t.equal(run.code, 0);
  t.equal(run.stdout.trim(), 'Webhook dispatch succeeded.');
  t.equal(discord.received[0]?.payload.content, '🚨 **SYSTEM ALERT:** disk full');
});

t.test('npm run alert reads DISCORD_WEBHOOK_URL from .env in the working directory', async (t) => {
  const discord = await FakeDiscord.start();
  t.teardown(() => discord.close());
  const dir = t.testdir();
  writeFileSync(path.join(dir, '.env'), `DISCORD_WEBHOOK_URL=${discord.url}\n`);
  const run = await runAlert(['from .env'], {}, dir);
  t.equal(run.code, 0);
  t.equal(discord.received.length, 1);
});

t.test('npm run alert prints the reason and exits 1 when Discord refuses, without the token', async (t) => {
  const discord = await FakeDiscord.start();
  t.teardown(() => discord.close());
  discord.answerNext({ status: 404, body: { message: 'Unknown Webhook', code: 10015 } });
  const run = await runAlert(['x'], { DISCORD_WEBHOOK_URL: discord.url }, t.testdir());
  t.equal(run.code, 1);
  t.match(run.stderr, /Webhook dispatch failed: Discord answered 404/);
  t.notMatch(run.stdout + run.stderr, discord.token);
});

t.test('npm run alert with DISCORD_WEBHOOK_URL unset says so and exits 1', async (t) => {
  const run = await runAlert(['x'], {}, t.testdir());
  t.equal(run.code, 1);
  t.match(run.stderr, /DISCORD_WEBHOOK_URL: is not set/);
});

t.test('npm run alert with a malformed DISCORD_WEBHOOK_URL names the variable and exits 1', async (t) => {
  const run = await runAlert(['x'], { DISCORD_WEBHOOK_URL: 'not-a-url-secretish' }, t.testdir());
  t.equal(run.code, 1);
  t.match(run.stderr, /DISCORD_WEBHOOK_URL: must be an http\(s\) URL/);
  t.notMatch(run.stderr, /secretish/, 'the value is not echoed');
});

t.test('npm run alert without text prints usage and exits 1', async (t) => {
  const run = await runAlert([], {}, t.testdir());
  t.equal(run.code, 1);
  t.match(run.stderr, /Usage: npm run alert/);
});
